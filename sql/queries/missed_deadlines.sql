-- missed_deadlines: claim the unfinished runs of a DAG past their deadline that have not
-- been alerted yet, marking them alerted (at most one alert per run, whichever scheduler
-- claims it). $1 dag_id, $2 deadline (ms), $3 reference ('data_interval_end' | 'created'),
-- $4 unfinished run states
UPDATE weir.dag_run SET deadline_alerted_at = now()
WHERE dag_id = $1 AND state = ANY($4::weir.run_state[]) AND deadline_alerted_at IS NULL
  AND (CASE WHEN $3 = 'created' THEN created_at ELSE data_interval_end END) + make_interval(secs => $2::double precision / 1000) < now()
RETURNING run_id, run_type, state, created_at, data_interval_start, data_interval_end,
  (CASE WHEN $3 = 'created' THEN created_at ELSE data_interval_end END) + make_interval(secs => $2::double precision / 1000) AS deadline
