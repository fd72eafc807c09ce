-- Queries analysts run against the warehouse schema (read-only role {{ cookiecutter.warehouse_schema }}_analyst;
-- here: make psql, then \i sql/analyst_queries.sql).
SET search_path TO {{ cookiecutter.warehouse_schema }};

-- Latest score per entity, with the model version that produced it.
SELECT entity_id, data_date, score, model_version, predicted_at
FROM latest_predictions
ORDER BY score DESC
LIMIT 20;

-- Rows, model version and scoring time per day.
SELECT data_date, count(*) AS rows, min(model_version) AS model_version,
       min(predicted_at) AS first_predicted_at, max(predicted_at) AS last_predicted_at
FROM predictions
GROUP BY data_date
ORDER BY data_date;

-- Which model was in production when, and why it was promoted.
SELECT decided_at, action, version, previous, reason, metrics
FROM champion_history;

-- Days the validation gate stopped, with the failed expectations.
SELECT data_date, dataset, row_count, failed, failures, report_path
FROM partition_status
WHERE success = false
ORDER BY data_date;

-- Which Airflow run wrote each date, and the data interval it covered. Join on the run,
-- never on dates: a manual run's logical_date is the end of its interval.
SELECT data_date, run_id, run_type, logical_date, data_interval_start, data_interval_end,
       model_version, count(*) AS rows
FROM prediction_lineage
GROUP BY data_date, run_id, run_type, logical_date, data_interval_start, data_interval_end, model_version
ORDER BY data_date;

-- Days batch health stopped before scoring, and why.
SELECT data_date, breaches FROM batch_health_breaches ORDER BY data_date;

-- Feature drift per scored date: the largest PSI and the features past the threshold.
SELECT data_date, reference_version, round(max_psi::numeric, 3) AS max_psi, drifted_features
FROM drift_by_date
ORDER BY data_date;

-- The model's metrics once the labels arrived, beside their value at training.
SELECT data_date, metric, value, at_training, model_version, rows, breached
FROM performance_by_date
ORDER BY data_date, metric;
