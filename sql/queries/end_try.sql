-- end_try: the hot path's step of one successful try, in one autocommit statement: what
-- end_tries.sql does in its fast mode (without $15) for a batch of one, in a smaller plan (a
-- batch's per-run aggregates, sorts and window are not needed for one try): end_tries took
-- 0.74 ms for one try, this one 0.53 ms (each rolled back in a loop).
-- The try goes running -> success, written to its task_try row (created here, or completed
-- when log lines shipped while it ran created it, lines appended); its success is added to
-- the upstream counters of its waiting successors (task_instance.downstream), each
-- successor's trigger rule is decided (weir.trigger_decision) and those that may run are
-- claimed (none -> running on host $9, in the row update that counts them); the run's
-- finished count is updated, and if this was its last task instance and it may end here
-- ($10) it ends, succeeded or failed by weir.run_outcome ($11: TASK_FAILED), announced on
-- `weir_run` (`<run_id>:<state>`).
-- All of it only when the step needs nothing beyond this statement
-- (weir.step_in_one_statement, weir.successor_needs_more: migration 0016): the try is
-- still the running one, no successor is skipped or upstream_failed, every successor
-- that may run is one of $7 and there are at most $8 of them. Otherwise nothing is
-- written, and one 'deferred' row says so (the caller's transaction does the rest:
-- engine/runs.ts endTries).
-- Rows are locked before anything is decided, the try first, then its successors in key
-- order, then the run (the order of every other writer), so decisions read the newest
-- committed counters.
-- $1 run_id, $2 task_id, $3 try_number, $4 output (JSON text), $5 logs (JSON text), $6 dag_hash
-- (the code version that ran), $7 successors the caller may claim (task ids), $8 claims
-- allowed, $9 hostname, $10 whether the run may end here, $11 leaf states that fail a run
-- Returns end_tries' row shapes: 'ended', 'successor' (one that waits: counters after the
-- update and its rule's decision), 'claimed', 'run' (unfinished, and its state when it ended
-- here), or one 'deferred'. The run is announced on `weir_events` (payload: the run id) at commit.
WITH try AS (
  SELECT ti.run_id, ti.downstream, ti.state = 'running' AND ti.try_number = $3::int AS live
  FROM weir.task_instance ti
  WHERE ti.run_id = $1::text AND ti.task_id = $2::text
  FOR NO KEY UPDATE
), successors AS (
  SELECT ti.run_id, ti.task_id,
    weir.trigger_decision(ti.trigger_rule, ti.up_total, ti.up_success + 1, ti.up_failed, ti.up_skipped, ti.up_upstream_failed) AS decision
  FROM weir.task_instance ti
  WHERE ti.run_id = $1::text AND ti.task_id = ANY((SELECT t.downstream FROM try t WHERE t.live)::text[]) AND ti.state = 'none'
  ORDER BY ti.task_id
  FOR NO KEY UPDATE
), run AS (
  -- Locked after the successors: its columns read them (each an InitPlan, run before the row is locked).
  SELECT r.run_id, r.state, r.unfinished <= 1 AS ends,
    weir.step_in_one_statement(
      coalesce((SELECT t.live FROM try t), false),
      coalesce((SELECT bool_or(weir.successor_needs_more(s.decision, s.task_id = ANY($7::text[]))) FROM successors s), false),
      r.unfinished, 1, $10::bool, r.state
    ) AND (SELECT count(*) FROM successors s WHERE s.decision = 'run') <= $8::int AS recorded
  FROM weir.dag_run r
  WHERE r.run_id = $1::text
  FOR NO KEY UPDATE
), ended AS (
  UPDATE weir.task_instance ti SET
    state = 'success', output = $4::jsonb, end_date = now(),
    duration_ms = extract(epoch FROM (now() - ti.start_date)) * 1000, heartbeat_at = NULL
  FROM run r
  WHERE r.recorded AND ti.run_id = r.run_id AND ti.task_id = $2::text
  RETURNING ti.run_id, ti.task_id, ti.try_number, ti.state, ti.start_date, ti.end_date, ti.duration_ms, ti.hostname
), tried AS (
  INSERT INTO weir.task_try AS t (run_id, task_id, try_number, state, start_date, end_date, duration_ms, hostname, dag_hash, logs)
  SELECT e.run_id, e.task_id, e.try_number, e.state, e.start_date, e.end_date, e.duration_ms, e.hostname, $6::text, coalesce($5::jsonb, '[]'::jsonb)
  FROM ended e
  ON CONFLICT (run_id, task_id, try_number) DO UPDATE SET state = EXCLUDED.state, end_date = EXCLUDED.end_date,
    duration_ms = EXCLUDED.duration_ms, error = NULL, error_stack = NULL, dag_hash = EXCLUDED.dag_hash, logs = t.logs || EXCLUDED.logs
  RETURNING t.run_id
), counted AS (
  -- Every successor whose rule says run is claimed: the step is recorded only if each one may be.
  UPDATE weir.task_instance ti SET
    up_success = ti.up_success + 1,
    state = CASE WHEN s.decision = 'run' THEN 'running' ELSE ti.state END,
    try_number = CASE WHEN s.decision = 'run' THEN ti.try_number + 1 ELSE ti.try_number END,
    queued_at = CASE WHEN s.decision = 'run' THEN now() ELSE ti.queued_at END,
    start_date = CASE WHEN s.decision = 'run' THEN now() ELSE ti.start_date END,
    end_date = CASE WHEN s.decision = 'run' THEN NULL ELSE ti.end_date END,
    duration_ms = CASE WHEN s.decision = 'run' THEN NULL ELSE ti.duration_ms END,
    heartbeat_at = CASE WHEN s.decision = 'run' THEN now() ELSE ti.heartbeat_at END,
    hostname = CASE WHEN s.decision = 'run' THEN $9::text ELSE ti.hostname END
  FROM successors s, run r
  WHERE r.recorded AND ti.run_id = s.run_id AND ti.task_id = s.task_id
  RETURNING ti.run_id, ti.task_id, ti.trigger_rule, ti.up_total, ti.up_success, ti.up_failed, ti.up_skipped, ti.up_upstream_failed,
    s.decision, s.decision = 'run' AS claim, ti.try_number, ti.max_tries
), finished AS (
  -- After every lock is held: weir.run_outcome then sees every other end of the run.
  UPDATE weir.dag_run r SET unfinished = r.unfinished - 1,
    state = CASE WHEN f.ends THEN weir.run_outcome(r.run_id, r.leaves, $11::weir.ti_state[]) ELSE r.state END,
    start_date = CASE WHEN f.ends THEN coalesce(r.start_date, now()) ELSE r.start_date END,
    end_date = CASE WHEN f.ends THEN now() ELSE r.end_date END
  FROM run f
  WHERE f.recorded AND r.run_id = f.run_id
  RETURNING r.run_id, r.unfinished, r.dag_id, r.conf, r.logical_date, r.data_interval_start, r.data_interval_end, r.queue,
    CASE WHEN f.ends THEN r.state::text END AS ended_as,
    CASE WHEN f.ends THEN pg_notify('weir_run', r.run_id || ':' || r.state::text) IS NULL END AS announced
)
SELECT 'ended' AS kind, run_id, task_id, state::text AS state, NULL AS trigger_rule, 0 AS up_total, 0 AS up_success, 0 AS up_failed,
    0 AS up_skipped, 0 AS up_upstream_failed, NULL AS decision, 0 AS unfinished, 0 AS try_number, 0 AS max_tries,
    NULL AS dag_id, NULL::jsonb AS conf, NULL::timestamptz AS logical_date, NULL::timestamptz AS data_interval_start,
    NULL::timestamptz AS data_interval_end, NULL AS queue
  FROM ended
  WHERE pg_notify('weir_events', run_id) IS NOT NULL -- always true (void is not null): announces the run
UNION ALL
SELECT 'successor', run_id, task_id, NULL, trigger_rule, up_total, up_success, up_failed, up_skipped, up_upstream_failed, decision, 0, 0, 0,
    NULL, NULL, NULL, NULL, NULL, NULL
  FROM counted WHERE NOT claim
UNION ALL
-- The run's columns a claimed successor needs (they never change), from the one row `finished` returns.
SELECT 'claimed', c.run_id, c.task_id, NULL, NULL, 0, 0, 0, 0, 0, NULL, 0, c.try_number, c.max_tries,
    f.dag_id, f.conf, f.logical_date, f.data_interval_start, f.data_interval_end, f.queue
  FROM counted c CROSS JOIN finished f WHERE c.claim
UNION ALL
SELECT 'run', run_id, NULL, ended_as, NULL, 0, 0, 0, 0, 0, NULL, unfinished, 0, 0, dag_id, NULL, NULL, NULL, NULL, NULL FROM finished
UNION ALL
SELECT 'deferred', $1::text, NULL, NULL, NULL, 0, 0, 0, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL
  WHERE NOT EXISTS (SELECT 1 FROM run r WHERE r.recorded)
