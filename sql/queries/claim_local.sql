-- claim_local: none -> running for successors the finishing worker runs itself at once
-- (eager dispatch: no queue round trip while it has free slots).
-- Parallel arrays: $1 run_id[], $2 task_id[]; $3 hostname
UPDATE weir.task_instance ti SET
  state = 'running', try_number = ti.try_number + 1, queued_at = now(), start_date = now(),
  end_date = NULL, duration_ms = NULL, heartbeat_at = now(), hostname = $3
FROM unnest($1::text[], $2::text[]) AS c(run_id, task_id)
WHERE ti.run_id = c.run_id AND ti.task_id = c.task_id AND ti.state = 'none'
RETURNING ti.run_id, ti.task_id, ti.try_number, ti.max_tries
