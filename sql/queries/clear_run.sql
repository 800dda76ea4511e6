-- clear_run: a finished run's failed task instances (all of them without only_failed) and
-- everything downstream of them along the run's own edges go back to `none`, with their
-- retries renewed from the current code, and the run is running again (`weir clear`, as
-- Airflow's clear). Guarded: the run has finished and so has every task instance of it;
-- otherwise nothing changes and nothing is returned. Each cleared task instance comes back
-- with its upstream counters recounted from the upstream tasks that keep their outcome,
-- so the caller acts at once on each one's trigger-rule decision (weir.trigger_decision): run, settle or wait.
-- $1 run_id, $2 only_failed (bool), $3 run states it clears from (RUN_FINISHED),
-- $4 states of a finished task instance (TASK_FINISHED), $5 states only_failed re-runs
-- (TASK_FAILED), $6 task_id[] and $7 retries[] (parallel: the current code's retries, which a
-- mapped task's instances share; a task no longer in the code gets 0)
-- Each run touched is announced on `weir_events` (payload: the run id) at commit, for the server's live events.
WITH RECURSIVE run AS (
  SELECT r.run_id FROM weir.dag_run r
  WHERE r.run_id = $1 AND r.state = ANY($3::weir.run_state[])
    AND NOT EXISTS (
      SELECT 1 FROM weir.task_instance ti WHERE ti.run_id = r.run_id AND NOT ti.state = ANY($4::weir.ti_state[])
    )
  FOR UPDATE
), reset(task_id) AS (
  SELECT ti.task_id FROM weir.task_instance ti JOIN run ON ti.run_id = run.run_id
  WHERE NOT $2::bool OR ti.state = ANY($5::weir.ti_state[])
  UNION
  SELECT d.task_id
  FROM reset JOIN weir.task_instance ti ON ti.run_id = $1 AND ti.task_id = reset.task_id
  CROSS JOIN LATERAL unnest(ti.downstream) AS d(task_id)
), kept AS (
  SELECT s.successor AS task_id,
    count(*) FILTER (WHERE u.state = 'success')::int AS success,
    count(*) FILTER (WHERE u.state = 'failed')::int AS failed,
    count(*) FILTER (WHERE u.state = 'skipped')::int AS skipped,
    count(*) FILTER (WHERE u.state = 'upstream_failed')::int AS upstream_failed
  FROM weir.task_instance u CROSS JOIN LATERAL unnest(u.downstream) AS s(successor)
  WHERE u.run_id = $1 AND u.task_id NOT IN (SELECT task_id FROM reset)
    AND s.successor IN (SELECT task_id FROM reset)
  GROUP BY s.successor
), cleared AS (
  UPDATE weir.task_instance t SET
    state = 'none', output = NULL, start_date = NULL, end_date = NULL, duration_ms = NULL,
    heartbeat_at = NULL, handed_back = false,
    max_tries = t.try_number + coalesce((SELECT c.retries FROM unnest($6::text[], $7::int[]) AS c(task_id, retries) WHERE c.task_id = coalesce(t.map_task, t.task_id)), 0),
    up_success = coalesce(k.success, 0), up_failed = coalesce(k.failed, 0),
    up_skipped = coalesce(k.skipped, 0), up_upstream_failed = coalesce(k.upstream_failed, 0)
  FROM reset
    LEFT JOIN kept k ON k.task_id = reset.task_id
  WHERE t.run_id = $1 AND t.task_id = reset.task_id
  RETURNING t.run_id, t.task_id, t.trigger_rule, t.up_total, t.up_success, t.up_failed, t.up_skipped, t.up_upstream_failed
), reopened AS (
  UPDATE weir.dag_run r SET state = 'running', end_date = NULL, note = NULL, admitted = true,
    unfinished = (SELECT count(*) FROM reset)
  FROM run
  WHERE r.run_id = run.run_id AND EXISTS (SELECT 1 FROM reset)
  RETURNING r.run_id, r.queue, r.unfinished
)
SELECT c.run_id, c.task_id, c.trigger_rule, c.up_total, c.up_success, c.up_failed, c.up_skipped,
  c.up_upstream_failed, weir.trigger_decision(c.trigger_rule, c.up_total, c.up_success, c.up_failed, c.up_skipped, c.up_upstream_failed) AS decision,
  o.queue, o.unfinished, pg_notify('weir_events', c.run_id) IS NULL AS announced
FROM cleared c JOIN reopened o ON o.run_id = c.run_id
ORDER BY c.task_id
