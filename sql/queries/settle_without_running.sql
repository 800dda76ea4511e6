-- settle_without_running: none -> skipped | upstream_failed, decided by trigger rules;
-- returns each settled instance's downstream edges for the next propagation step.
-- Parallel arrays: $1 run_id[], $2 task_id[], $3 state[]
-- Each run touched is announced on `weir_events` (payload: the run id) at commit, for the server's live events.
UPDATE weir.task_instance ti SET state = s.state::weir.ti_state, start_date = now(), end_date = now(), duration_ms = 0
FROM unnest($1::text[], $2::text[], $3::text[]) AS s(run_id, task_id, state)
WHERE ti.run_id = s.run_id AND ti.task_id = s.task_id AND ti.state = 'none'
RETURNING ti.run_id, ti.task_id, ti.state, ti.downstream, pg_notify('weir_events', ti.run_id) IS NULL AS announced
