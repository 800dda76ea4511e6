-- cancel_run: queued/running -> failed for a run (Airflow's "mark failed"), in one
-- statement: running tries fail with the reason (their workers abort them on the
-- weir_cancel notification), task instances not started are skipped, and the run ends.
-- Returns the run's dag_id, or nothing when it had finished already. $1 run_id, $2 note
WITH run AS (
  UPDATE weir.dag_run SET state = 'failed', end_date = now(), note = $2, unfinished = 0
  WHERE run_id = $1 AND state IN ('queued', 'running')
  RETURNING run_id, dag_id
), tis AS (
  UPDATE weir.task_instance ti SET
    state = CASE WHEN ti.state = 'running' THEN 'failed'::weir.ti_state ELSE 'skipped'::weir.ti_state END,
    end_date = now(), heartbeat_at = NULL, handed_back = false,
    duration_ms = CASE WHEN ti.state = 'running' THEN extract(epoch FROM (now() - ti.start_date)) * 1000 END
  FROM run
  WHERE ti.run_id = run.run_id AND ti.state IN ('none', 'scheduled', 'queued', 'running', 'up_for_retry')
  RETURNING ti.run_id, ti.task_id, ti.try_number, ti.state
), tries AS (
  UPDATE weir.task_try t SET state = 'failed', end_date = now(),
    duration_ms = extract(epoch FROM (now() - t.start_date)) * 1000, error = $2
  FROM tis
  WHERE tis.state = 'failed' AND t.run_id = tis.run_id AND t.task_id = tis.task_id
    AND t.try_number = tis.try_number AND t.state = 'running'
  RETURNING 1
)
SELECT run.dag_id, pg_notify('weir_cancel', run.run_id) IS NULL AS notified,
  pg_notify('weir_run', run.run_id || ':failed') IS NULL AS announced
FROM run
