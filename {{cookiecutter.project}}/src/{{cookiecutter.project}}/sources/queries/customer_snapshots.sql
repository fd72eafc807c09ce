-- One row per customer per day. SELECT * on purpose: a column the upstream renames
-- or drops reaches the validation gate, which names it, instead of breaking here.
SELECT *
FROM {source_schema}.customer_snapshots
WHERE snapshot_date >= %(start)s::date AND snapshot_date < %(end)s::date
