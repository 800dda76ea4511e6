-- api_task_instances: task instances of one run for the REST API, with their run's
-- DAG, dates and queue. $1 run_id, $2 task_id or NULL (all)
SELECT r.dag_id, r.run_id, r.logical_date, r.queue, ti.task_id, ti.state, ti.try_number, ti.max_tries,
  ti.queued_at, ti.start_date, ti.end_date, ti.duration_ms, ti.hostname, ti.trigger_rule
FROM weir.task_instance ti JOIN weir.dag_run r ON r.run_id = ti.run_id
WHERE ti.run_id = $1 AND ($2::text IS NULL OR ti.task_id = $2)
ORDER BY ti.start_date NULLS LAST, ti.task_id
