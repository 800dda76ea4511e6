-- settle_without_running: none -> skipped or upstream_failed, decided by trigger rules.
-- $1 run_id, $2 task_id[], $3 state (skipped | upstream_failed)
UPDATE weir.task_instance SET state = $3::weir.ti_state, start_date = now(), end_date = now(), duration_ms = 0
WHERE run_id = $1 AND task_id = ANY($2::text[]) AND state = 'none'
RETURNING task_id
