-- end_tries: running -> success | failed | skipped | up_for_retry for a batch of tries,
-- each written to its task_try row (created here, or by log lines shipped while it ran:
-- then completed, lines appended); in the same statement, the final outcomes are added
-- to the upstream counters of waiting successors (the run's own edges,
-- task_instance.downstream), each successor's trigger rule is decided
-- (weir.trigger_decision), and their runs' finished count is updated. Retry or fail is
-- decided here: a retryable failure is retried while try_number <= max_tries (Airflow's rule).
--
-- Two modes ($15):
-- * true: every run's tries are recorded, and the caller's transaction does what follows
--   (queueing, skipping, ending runs: engine/runs.ts endTries).
-- * false (the hot path, one autocommit round trip per step): only the runs whose step
--   needs nothing beyond this statement are recorded (weir.step_in_one_statement and
--   weir.successor_needs_more, migration 0016). That is, every try of the run
--   succeeded and is still the running one, the run does not end (or is one of $16,
--   which may end here), no successor is skipped or upstream_failed, and every
--   successor that may run is one the caller may claim ($11/$12), within $13 claims in
--   all, oldest run first. Those successors go none -> running on host $14 in the same
--   row update that counts them. A run of $16 whose last task instance this records
--   ends, succeeded or failed by weir.run_outcome ($17: TASK_FAILED), announced on
--   `weir_run` (`<run_id>:<state>`). Other runs are left untouched, returned as 'deferred'.
--   The caller sends a step of one try to end_try.sql instead (the same step, a smaller plan).
-- Rows are locked before anything is decided, tries first, then successors, then runs
-- (the order of every other writer), so decisions read the newest committed counters.
-- Tries: parallel arrays $1 run_id[], $2 task_id[], $3 try_number[], $4 outcome[]
--   ('success' | 'skipped' | 'failed'), $5 output[] (JSON text), $6 error[], $7 error_stack[],
--   $8 logs[] (JSON text), $9 retryable[] (bool), $10 dag_hash[] (the code version that ran)
-- Claimable successors: parallel arrays $11 run_id[], $12 task_id[]; $13 claims allowed; $14 hostname
-- $15 record every run (see above); $16 run_id[] that may end here; $17 leaf states that fail a run
-- Returns 'ended' rows (run_id, task_id, state), 'successor' rows (counters after the
-- update, and the trigger rule's decision), 'run' rows (run_id, unfinished, and its state
-- when it ended here), 'claimed'
-- rows (what running a claimed successor needs from its run) and 'deferred' rows (run_id).
-- A try of a recorded run not returned as ended was cancelled, cleared or declared lost
-- meanwhile; its result is dropped and it counts nowhere.
-- Each run touched is announced on `weir_events` (payload: the run id) at commit, for the server's live events.
WITH j AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bool[], $10::text[])
    AS j(run_id, task_id, try_number, outcome, output, error, error_stack, logs, retryable, dag_hash)
), tries AS (
  -- With what `ended` writes, so it reads no other CTE per row.
  SELECT ti.run_id, ti.task_id, ti.downstream, j.outcome, j.output,
    ti.state = 'running' AND ti.try_number = j.try_number AS live,
    CASE WHEN j.outcome = 'failed' AND j.retryable AND ti.try_number <= ti.max_tries THEN 'up_for_retry' ELSE j.outcome END AS final
  FROM weir.task_instance ti JOIN j ON ti.run_id = j.run_id AND ti.task_id = j.task_id
  ORDER BY ti.run_id, ti.task_id
  FOR NO KEY UPDATE OF ti
), outcomes AS (
  SELECT t.run_id, s.successor,
    count(*) FILTER (WHERE t.final = 'success')::int AS success,
    count(*) FILTER (WHERE t.final = 'failed')::int AS failed,
    count(*) FILTER (WHERE t.final = 'skipped')::int AS skipped
  FROM tries t CROSS JOIN LATERAL unnest(t.downstream) AS s(successor)
  WHERE t.live AND t.final <> 'up_for_retry'
  GROUP BY t.run_id, s.successor
  ORDER BY t.run_id, s.successor
), successors AS (
  -- Each successor is looked up by its key and locked there, in the outcomes' (key) order:
  -- a join left to the planner, which guesses one row for these CTEs, read every waiting
  -- task instance once per successor (quadratic in a fan-out's width).
  SELECT ti.run_id, ti.task_id, o.success, o.failed, o.skipped,
    weir.trigger_decision(ti.trigger_rule, ti.up_total, ti.up_success + o.success, ti.up_failed + o.failed,
      ti.up_skipped + o.skipped, ti.up_upstream_failed) AS decision
  FROM outcomes o CROSS JOIN LATERAL (
    SELECT ti.* FROM weir.task_instance ti
    WHERE ti.run_id = o.run_id AND ti.task_id = o.successor AND ti.state = 'none'
    OFFSET 0
    FOR NO KEY UPDATE OF ti
  ) ti
), per_run AS (
  -- Per run, in one aggregate (a join of two per-run CTEs read one of them once per run):
  -- its tries recorded now (n), whether all of them succeeded and still run (simple), its
  -- successors to claim, and whether one needs more than this statement (to be skipped or
  -- upstream_failed, or to run where the caller may not claim it).
  SELECT x.run_id, sum(x.n)::int AS n, bool_and(x.simple) AS simple, sum(x.claims)::int AS claims, bool_or(x.blocked) AS blocked
  FROM (
    SELECT run_id, (live AND final <> 'up_for_retry')::int AS n, live AND outcome = 'success' AS simple, 0 AS claims, false AS blocked
    FROM tries
    UNION ALL
    SELECT s.run_id, 0, true, (s.decision = 'run')::int,
      weir.successor_needs_more(s.decision, c.task_id IS NOT NULL)
    FROM successors s LEFT JOIN unnest($11::text[], $12::text[]) AS c(run_id, task_id) ON c.run_id = s.run_id AND c.task_id = s.task_id
  ) x
  GROUP BY x.run_id
), runs AS (
  -- Locked after the successors' rows: per_run reads successors.
  SELECT r.run_id, r.unfinished, f.n, NOT $15::bool AND r.unfinished <= f.n AS ends, f.claims,
    $15::bool OR weir.step_in_one_statement(f.simple, f.blocked, r.unfinished, f.n, r.run_id = ANY($16::text[]), r.state) AS simple
  FROM per_run f CROSS JOIN LATERAL (
    SELECT r.* FROM weir.dag_run r WHERE r.run_id = f.run_id OFFSET 0
  ) r
  ORDER BY r.run_id
  FOR NO KEY UPDATE OF r
), recorded AS (
  -- The runs recorded now: every one, or the simple ones whose claims fit, oldest first.
  SELECT r.run_id, r.n, r.ends FROM (
    SELECT r.run_id, r.n, r.ends, r.simple,
      sum(r.claims) FILTER (WHERE r.simple) OVER (ORDER BY r.run_id ROWS UNBOUNDED PRECEDING) AS claims
    FROM runs r
  ) r
  WHERE r.simple AND ($15::bool OR r.claims <= $13::int)
), ended AS (
  UPDATE weir.task_instance ti SET
    state = t.final::weir.ti_state,
    output = t.output::jsonb, end_date = now(),
    duration_ms = extract(epoch FROM (now() - ti.start_date)) * 1000, heartbeat_at = NULL
  -- Recorded as a column (a hashed lookup), not a join read once per try. t.live was read
  -- from the row locked in `tries`: it is still the running try.
  FROM (SELECT t.*, t.run_id IN (SELECT run_id FROM recorded) AS recorded FROM tries t) t
  WHERE ti.run_id = t.run_id AND ti.task_id = t.task_id AND t.live AND t.recorded
  RETURNING ti.run_id, ti.task_id, ti.try_number, ti.state, ti.start_date, ti.end_date, ti.duration_ms, ti.hostname
), tried AS (
  INSERT INTO weir.task_try AS t (run_id, task_id, try_number, state, start_date, end_date, duration_ms, error, error_stack, hostname, dag_hash, logs)
  SELECT e.run_id, e.task_id, e.try_number, e.state, e.start_date, e.end_date, e.duration_ms,
    j.error, j.error_stack, e.hostname, j.dag_hash, coalesce(j.logs::jsonb, '[]'::jsonb)
  FROM ended e JOIN j ON j.run_id = e.run_id AND j.task_id = e.task_id
  ON CONFLICT (run_id, task_id, try_number) DO UPDATE SET state = EXCLUDED.state, end_date = EXCLUDED.end_date,
    duration_ms = EXCLUDED.duration_ms, error = EXCLUDED.error, error_stack = EXCLUDED.error_stack,
    dag_hash = EXCLUDED.dag_hash, logs = t.logs || EXCLUDED.logs
  RETURNING t.run_id
), counted AS (
  -- A successor the caller may claim, whose rule says run, is claimed in the same row update (not in mode $15).
  UPDATE weir.task_instance ti SET
    up_success = ti.up_success + s.success,
    up_failed = ti.up_failed + s.failed,
    up_skipped = ti.up_skipped + s.skipped,
    state = CASE WHEN s.claim THEN 'running' ELSE ti.state END,
    try_number = CASE WHEN s.claim THEN ti.try_number + 1 ELSE ti.try_number END,
    queued_at = CASE WHEN s.claim THEN now() ELSE ti.queued_at END,
    start_date = CASE WHEN s.claim THEN now() ELSE ti.start_date END,
    end_date = CASE WHEN s.claim THEN NULL ELSE ti.end_date END,
    duration_ms = CASE WHEN s.claim THEN NULL ELSE ti.duration_ms END,
    heartbeat_at = CASE WHEN s.claim THEN now() ELSE ti.heartbeat_at END,
    hostname = CASE WHEN s.claim THEN $14 ELSE ti.hostname END
  FROM (
    -- Recorded as a column, not a join: joined, its run_id became the row lookup's only key.
    SELECT s.*, NOT $15::bool AND s.decision = 'run' AS claim, s.run_id IN (SELECT run_id FROM recorded) AS recorded FROM successors s
  ) s
  WHERE s.recorded AND ti.run_id = s.run_id AND ti.task_id = s.task_id AND ti.state = 'none'
  RETURNING ti.run_id, ti.task_id, ti.trigger_rule, ti.up_total, ti.up_success, ti.up_failed, ti.up_skipped, ti.up_upstream_failed,
    s.decision, s.claim, ti.try_number, ti.max_tries
), finished AS (
  -- After every lock is held: weir.run_outcome then sees every other end of the run.
  UPDATE weir.dag_run r SET unfinished = r.unfinished - f.n,
    state = CASE WHEN f.ends THEN weir.run_outcome(r.run_id, r.leaves, $17::weir.ti_state[]) ELSE r.state END,
    start_date = CASE WHEN f.ends THEN coalesce(r.start_date, now()) ELSE r.start_date END,
    end_date = CASE WHEN f.ends THEN now() ELSE r.end_date END
  FROM recorded f
  WHERE r.run_id = f.run_id AND f.n > 0
  RETURNING r.run_id, r.unfinished, r.dag_id, r.conf, r.logical_date, r.data_interval_start, r.data_interval_end, r.queue,
    CASE WHEN f.ends THEN r.state::text END AS ended_as,
    CASE WHEN f.ends THEN pg_notify('weir_run', r.run_id || ':' || r.state::text) IS NULL END AS announced
)
SELECT 'ended' AS kind, run_id, task_id, state::text AS state, NULL AS trigger_rule, 0 AS up_total, 0 AS up_success, 0 AS up_failed,
    0 AS up_skipped, 0 AS up_upstream_failed, NULL AS decision, 0 AS unfinished, 0 AS try_number, 0 AS max_tries,
    NULL AS dag_id, NULL::jsonb AS conf, NULL::timestamptz AS logical_date, NULL::timestamptz AS data_interval_start,
    NULL::timestamptz AS data_interval_end, NULL AS queue
  FROM ended
  WHERE pg_notify('weir_events', run_id) IS NOT NULL -- always true (void is not null): announces each ended try's run
UNION ALL
SELECT 'successor', run_id, task_id, NULL, trigger_rule, up_total, up_success, up_failed, up_skipped, up_upstream_failed, decision, 0, 0, 0,
    NULL, NULL, NULL, NULL, NULL, NULL
  FROM counted WHERE NOT claim
UNION ALL
SELECT 'claimed', c.run_id, c.task_id, NULL, NULL, 0, 0, 0, 0, 0, NULL, 0, c.try_number, c.max_tries,
    r.dag_id, r.conf, r.logical_date, r.data_interval_start, r.data_interval_end, r.queue
  -- Looked up by key (these columns never change): a join with `finished` read it once per claim.
  FROM counted c CROSS JOIN LATERAL (SELECT r.* FROM weir.dag_run r WHERE r.run_id = c.run_id OFFSET 0) r WHERE c.claim
UNION ALL
SELECT 'run', run_id, NULL, ended_as, NULL, 0, 0, 0, 0, 0, NULL, unfinished, 0, 0, dag_id, NULL, NULL, NULL, NULL, NULL FROM finished
UNION ALL
SELECT 'deferred', run_id, NULL, NULL, NULL, 0, 0, 0, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL
  FROM runs WHERE run_id NOT IN (SELECT run_id FROM recorded)
