-- list_runs: newest runs first, optionally of one DAG and in one state, keyset-paged: a page
-- starts after the (created_at, run_id) of the previous page's last row, so every page is
-- read from an index in order (dag_run_created, dag_run_dag_created, dag_run_state_created,
-- dag_run_dag_state_created) however deep it is; `page_created_at` is the key's first half as exact text.
-- $1 dag_id or NULL, $2 state or NULL, $3 limit, $4 after created_at (text) or NULL, $5 after run_id or NULL
SELECT run_id, dag_id, run_type, state, logical_date, data_interval_start, data_interval_end,
  created_at, start_date, end_date, (extract(epoch FROM (end_date - start_date)) * 1000)::float8 AS duration_ms, note,
  created_at::text AS page_created_at
FROM weir.dag_run
WHERE ($1::text IS NULL OR dag_id = $1) AND ($2::weir.run_state IS NULL OR state = $2::weir.run_state)
  AND ($4::timestamptz IS NULL OR (created_at, run_id) < ($4::timestamptz, $5::text))
ORDER BY created_at DESC, run_id DESC
LIMIT $3
