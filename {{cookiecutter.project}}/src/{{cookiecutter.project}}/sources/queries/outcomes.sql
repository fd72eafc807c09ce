-- Outcomes arrive days after the snapshot they label: the partition for
-- [start, end) holds the outcomes observed in it.
SELECT snapshot_date, entity_id, label
FROM {source_schema}.outcomes
WHERE observed_on >= %(start)s::date AND observed_on < %(end)s::date
