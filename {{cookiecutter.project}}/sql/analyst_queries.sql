-- Queries analysts run against the warehouse schema (read-only role {{ cookiecutter.warehouse_schema }}_analyst).
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
