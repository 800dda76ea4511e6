-- cancel_run: queued/running -> failed for a run (Airflow's "mark failed"), in one
-- statement: running tries fail with the reason, recorded in their task_try rows (their
-- workers abort them on the weir_cancel notification), task instances not started are skipped, and the run ends.
-- Returns the run's dag_id, or nothing when it had finished already. $1 run_id, $2 note,
-- $3 the run states it may end from (RUN_UNFINISHED), $4 task states it ends (TASK_UNFINISHED)
WITH locked AS (
  -- The task instances first, in key order, then the run: the order of every other writer
  -- (a claim of the run's first task locks its task instance, then the run; the reverse
  -- order here deadlocked with it).
  SELECT ti.task_id FROM weir.task_instance ti
  WHERE ti.run_id = $1 AND ti.state = ANY($4::weir.ti_state[])
  ORDER BY ti.task_id
  FOR NO KEY UPDATE
), run AS (
  UPDATE weir.dag_run SET state = 'failed', end_date = now(), note = $2, unfinished = 0
  -- Always true: it only makes `locked` run (and take its locks) before this row is locked.
  WHERE run_id = $1 AND state = ANY($3::weir.run_state[]) AND (SELECT count(*) FROM locked) >= 0
  RETURNING run_id, dag_id
), tis AS (
  UPDATE weir.task_instance ti SET
    state = CASE WHEN ti.state = 'running' THEN 'failed'::weir.ti_state ELSE 'skipped'::weir.ti_state END,
    end_date = now(), heartbeat_at = NULL, handed_back = false,
    duration_ms = CASE WHEN ti.state = 'running' THEN extract(epoch FROM (now() - ti.start_date)) * 1000 END
  FROM run
  WHERE ti.run_id = run.run_id AND ti.state = ANY($4::weir.ti_state[])
  RETURNING ti.run_id, ti.task_id, ti.try_number, ti.state, ti.start_date, ti.end_date, ti.duration_ms, ti.hostname
), tries AS (
  INSERT INTO weir.task_try AS t (run_id, task_id, try_number, state, start_date, end_date, duration_ms, error, hostname)
  SELECT run_id, task_id, try_number, 'failed', start_date, end_date, duration_ms, $2, hostname FROM tis WHERE state = 'failed'
  ON CONFLICT (run_id, task_id, try_number) DO UPDATE SET state = 'failed', end_date = EXCLUDED.end_date,
    duration_ms = EXCLUDED.duration_ms, error = EXCLUDED.error
  RETURNING 1
)
SELECT run.dag_id, pg_notify('weir_cancel', run.run_id) IS NULL AS notified,
  pg_notify('weir_run', run.run_id || ':failed') IS NULL AS announced
FROM run
