-- end_tries: running -> success | failed | skipped | up_for_retry for a batch of tries,
-- each written to its task_try row (created here, or by log lines shipped while it ran:
-- then completed, lines appended); in the same
-- statement, the final outcomes are added to the upstream counters of waiting successors
-- (the run's own edges, task_instance.downstream) and to their runs' finished count
-- (one round trip on the hot path between two tasks). Retry or fail is decided here:
-- a retryable failure is retried while try_number <= max_tries (Airflow's rule).
-- Tries: parallel arrays $1 run_id[], $2 task_id[], $3 try_number[], $4 outcome[]
--   ('success' | 'skipped' | 'failed'), $5 output[] (JSON text), $6 error[], $7 error_stack[],
--   $8 logs[] (JSON text), $9 retryable[] (bool), $10 dag_hash[] (the code version that ran)
-- Returns 'ended' rows (run_id, task_id, state), 'successor' rows (counters after the update)
-- and 'run' rows (run_id, unfinished). A try not returned as ended was cancelled, cleared or
-- declared lost meanwhile; its result is dropped and it counts nowhere.
-- Each run touched is announced on `weir_events` (payload: the run id) at commit, for the server's live events.
WITH j AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bool[], $10::text[])
    AS j(run_id, task_id, try_number, outcome, output, error, error_stack, logs, retryable, dag_hash)
), ended AS (
  UPDATE weir.task_instance ti SET
    state = (CASE WHEN j.outcome = 'failed' AND j.retryable AND ti.try_number <= ti.max_tries THEN 'up_for_retry' ELSE j.outcome END)::weir.ti_state,
    output = j.output::jsonb, end_date = now(),
    duration_ms = extract(epoch FROM (now() - ti.start_date)) * 1000, heartbeat_at = NULL
  FROM j
  WHERE ti.run_id = j.run_id AND ti.task_id = j.task_id AND ti.try_number = j.try_number AND ti.state = 'running'
  RETURNING ti.run_id, ti.task_id, ti.try_number, ti.state, ti.start_date, ti.end_date, ti.duration_ms, ti.hostname, ti.downstream
), tried AS (
  INSERT INTO weir.task_try AS t (run_id, task_id, try_number, state, start_date, end_date, duration_ms, error, error_stack, hostname, dag_hash, logs)
  SELECT e.run_id, e.task_id, e.try_number, e.state, e.start_date, e.end_date, e.duration_ms,
    j.error, j.error_stack, e.hostname, j.dag_hash, coalesce(j.logs::jsonb, '[]'::jsonb)
  FROM ended e JOIN j ON j.run_id = e.run_id AND j.task_id = e.task_id
  ON CONFLICT (run_id, task_id, try_number) DO UPDATE SET state = EXCLUDED.state, end_date = EXCLUDED.end_date,
    duration_ms = EXCLUDED.duration_ms, error = EXCLUDED.error, error_stack = EXCLUDED.error_stack,
    dag_hash = EXCLUDED.dag_hash, logs = t.logs || EXCLUDED.logs
  RETURNING t.run_id
), outcomes AS (
  SELECT e.run_id, s.successor,
    count(*) FILTER (WHERE e.state = 'success')::int AS success,
    count(*) FILTER (WHERE e.state = 'failed')::int AS failed,
    count(*) FILTER (WHERE e.state = 'skipped')::int AS skipped
  FROM ended e CROSS JOIN LATERAL unnest(e.downstream) AS s(successor)
  WHERE e.state <> 'up_for_retry'
  GROUP BY e.run_id, s.successor
), counted AS (
  UPDATE weir.task_instance ti SET
    up_success = ti.up_success + o.success,
    up_failed = ti.up_failed + o.failed,
    up_skipped = ti.up_skipped + o.skipped
  FROM outcomes o
  WHERE ti.run_id = o.run_id AND ti.task_id = o.successor AND ti.state = 'none'
  RETURNING ti.run_id, ti.task_id, ti.trigger_rule, ti.up_total, ti.up_success, ti.up_failed, ti.up_skipped, ti.up_upstream_failed
), finished AS (
  UPDATE weir.dag_run r SET unfinished = r.unfinished - f.n
  FROM (SELECT run_id, count(*)::int AS n FROM ended WHERE state <> 'up_for_retry' GROUP BY run_id) f
  WHERE r.run_id = f.run_id
  RETURNING r.run_id, r.unfinished
)
SELECT 'ended' AS kind, run_id, task_id, state::text AS state, NULL AS trigger_rule, 0 AS up_total, 0 AS up_success, 0 AS up_failed, 0 AS up_skipped, 0 AS up_upstream_failed, 0 AS unfinished FROM ended
  WHERE pg_notify('weir_events', run_id) IS NOT NULL -- always true (void is not null): announces each ended try's run
UNION ALL
SELECT 'successor', run_id, task_id, NULL, trigger_rule, up_total, up_success, up_failed, up_skipped, up_upstream_failed, 0 FROM counted
UNION ALL
SELECT 'run', run_id, NULL, NULL, NULL, 0, 0, 0, 0, 0, unfinished FROM finished
