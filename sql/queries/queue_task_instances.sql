-- queue_task_instances: none -> queued for tasks whose trigger rule passed.
-- $1 run_id, $2 task_id[]
UPDATE weir.task_instance SET state = 'queued', queued_at = now()
WHERE run_id = $1 AND task_id = ANY($2::text[]) AND state = 'none'
RETURNING task_id, try_number
