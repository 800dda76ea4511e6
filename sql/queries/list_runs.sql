-- list_runs: newest runs first, optionally of one DAG and in one state.
-- $1 dag_id or NULL, $2 state or NULL, $3 limit
SELECT run_id, dag_id, run_type, state, logical_date, data_interval_start, data_interval_end,
  created_at, start_date, end_date, (extract(epoch FROM (end_date - start_date)) * 1000)::float8 AS duration_ms, note
FROM weir.dag_run
WHERE ($1::text IS NULL OR dag_id = $1) AND ($2::weir.run_state IS NULL OR state = $2::weir.run_state)
ORDER BY created_at DESC
LIMIT $3
