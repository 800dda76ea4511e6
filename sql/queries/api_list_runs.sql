-- api_list_runs: a page of runs for the REST API, Airflow's offset paging, with the total.
-- ORDER BY is one of the fixed orders in runtime/server/api/v2.ts (never request text).
-- $1 dag_id or NULL (every DAG), $2 states (weir.run_state[]) or NULL, $3 limit, $4 offset
SELECT run_id, dag_id, run_type, state, logical_date, data_interval_start, data_interval_end, conf,
  created_at, start_date, end_date, (extract(epoch FROM (end_date - start_date)) * 1000)::float8 AS duration_ms, note,
  count(*) OVER () AS total_entries
FROM weir.dag_run
WHERE ($1::text IS NULL OR dag_id = $1) AND ($2::weir.run_state[] IS NULL OR state = ANY ($2::weir.run_state[]))
ORDER BY /*order*/ created_at, run_id
LIMIT $3 OFFSET $4
