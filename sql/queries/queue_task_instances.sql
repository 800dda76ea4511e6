-- queue_task_instances: none -> queued for tasks whose trigger rule passed, on pg-boss
-- queue $3 (kept as queued_on), and a wake-up for workers of that queue (sent at commit,
-- once per transaction).
-- Parallel arrays: $1 run_id[], $2 task_id[]; $3 queue
-- Each run touched is announced on `weir_events` (payload: the run id) at commit, for the server's live events.
UPDATE weir.task_instance ti SET state = 'queued', queued_at = now(), queued_on = $3
FROM unnest($1::text[], $2::text[]) AS q(run_id, task_id)
WHERE ti.run_id = q.run_id AND ti.task_id = q.task_id AND ti.state = 'none'
RETURNING ti.run_id, ti.task_id, ti.try_number, pg_notify('weir_work', $3) IS NULL AS notified,
  pg_notify('weir_events', ti.run_id) IS NULL AS announced
