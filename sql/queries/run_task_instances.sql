-- run_task_instances: every task instance of a run with its last error (a mapped task's
-- instances each with its task and map index). $1 run_id
SELECT ti.task_id, ti.map_task, ti.map_index, ti.state, ti.try_number, ti.max_tries, ti.start_date, ti.end_date, ti.duration_ms,
  ti.hostname, last.error AS last_error
FROM weir.task_instance ti
LEFT JOIN LATERAL (
  SELECT error FROM weir.task_try t
  WHERE t.run_id = ti.run_id AND t.task_id = ti.task_id AND t.error IS NOT NULL
  ORDER BY t.try_number DESC LIMIT 1
) last ON true
WHERE ti.run_id = $1
ORDER BY ti.start_date NULLS LAST, coalesce(ti.map_task, ti.task_id), ti.map_index NULLS FIRST
