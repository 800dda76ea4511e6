-- task_tries: the tries of one task instance, oldest first, the running one included
-- (from its task instance while it has written no log line yet). $1 run_id, $2 task_id
SELECT try_number, state, start_date, end_date, duration_ms, error, error_stack, hostname, dag_hash, logs
FROM weir.task_try WHERE run_id = $1 AND task_id = $2
UNION ALL
SELECT ti.try_number, ti.state, ti.start_date, NULL, NULL, NULL, NULL, ti.hostname, NULL, '[]'::jsonb
FROM weir.task_instance ti
WHERE ti.run_id = $1 AND ti.task_id = $2 AND ti.state = 'running'
  AND NOT EXISTS (SELECT 1 FROM weir.task_try t WHERE t.run_id = ti.run_id AND t.task_id = ti.task_id AND t.try_number = ti.try_number)
ORDER BY try_number
