-- interval_runs: existing runs of a DAG at these logical dates (any run type), for backfill.
-- $1 dag_id, $2 logical_date[]
SELECT run_id, logical_date, state, run_type FROM weir.dag_run
WHERE dag_id = $1 AND logical_date = ANY($2::timestamptz[])
