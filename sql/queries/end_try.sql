-- end_try: running -> success | failed | skipped | up_for_retry for one try, recorded
-- in task_try in the same statement. Zero rows: the try was cancelled, cleared or
-- declared lost meanwhile, and its result is dropped.
-- $1 run_id, $2 task_id, $3 try_number, $4 new state, $5 output (jsonb), $6 error,
-- $7 error_stack, $8 logs (jsonb)
WITH ended AS (
  UPDATE weir.task_instance SET
    state = $4::weir.ti_state, output = $5::jsonb, end_date = now(),
    duration_ms = extract(epoch FROM (now() - start_date)) * 1000, heartbeat_at = NULL
  WHERE run_id = $1 AND task_id = $2 AND try_number = $3 AND state = 'running'
  RETURNING run_id, task_id, try_number, start_date, end_date, duration_ms, hostname
)
INSERT INTO weir.task_try (run_id, task_id, try_number, state, start_date, end_date, duration_ms, error, error_stack, hostname, logs)
SELECT run_id, task_id, try_number, $4::weir.ti_state, start_date, end_date, duration_ms, $6, $7, hostname, coalesce($8::jsonb, '[]'::jsonb)
FROM ended
RETURNING run_id
