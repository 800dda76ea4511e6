-- task_tries: the recorded tries of one task instance, oldest first (a running try too).
-- $1 run_id, $2 task_id
SELECT try_number, state, start_date, end_date, duration_ms, error, error_stack, hostname, dag_hash, logs
FROM weir.task_try WHERE run_id = $1 AND task_id = $2
ORDER BY try_number
