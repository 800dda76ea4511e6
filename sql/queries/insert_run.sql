-- insert_run: create a DAG run; a scheduled/backfill run that exists already is left alone.
-- $1 run_id, $2 dag_id, $3 run_type, $4 logical_date, $5 data_interval_start,
-- $6 data_interval_end, $7 conf (jsonb), $8 queue, $9 unfinished (task count), $10 leaves (text[])
INSERT INTO weir.dag_run (run_id, dag_id, run_type, logical_date, data_interval_start, data_interval_end, conf, queue, unfinished, leaves)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT DO NOTHING
RETURNING run_id
