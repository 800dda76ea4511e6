-- end_tries: running -> success | failed | skipped | up_for_retry for a batch of tries,
-- each recorded in task_try; in the same statement, the final outcomes are added to
-- the upstream counters of waiting successors and to their runs' finished count
-- (one round trip on the hot path between two tasks).
-- Tries: parallel arrays $1 run_id[], $2 task_id[], $3 try_number[], $4 state[],
--   $5 output[] (JSON text), $6 error[], $7 error_stack[], $8 logs[] (JSON text), $9 final[] (bool)
-- Edges from final tries: parallel arrays $10 run_id[], $11 upstream task_id[], $12 successor task_id[]
-- Returns 'ended' rows (run_id, task_id), 'successor' rows (counters after the update) and
-- 'run' rows (run_id, unfinished). A try not returned as ended was cancelled, cleared or
-- declared lost meanwhile; its result is dropped and it counts nowhere.
WITH j AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bool[])
    AS j(run_id, task_id, try_number, state, output, error, error_stack, logs, final)
), ended AS (
  UPDATE weir.task_instance ti SET
    state = j.state::weir.ti_state, output = j.output::jsonb, end_date = now(),
    duration_ms = extract(epoch FROM (now() - ti.start_date)) * 1000, heartbeat_at = NULL
  FROM j
  WHERE ti.run_id = j.run_id AND ti.task_id = j.task_id AND ti.try_number = j.try_number AND ti.state = 'running'
  RETURNING ti.run_id, ti.task_id, ti.try_number, ti.start_date, ti.end_date, ti.duration_ms, ti.hostname
), tried AS (
  INSERT INTO weir.task_try (run_id, task_id, try_number, state, start_date, end_date, duration_ms, error, error_stack, hostname, logs)
  SELECT e.run_id, e.task_id, e.try_number, j.state::weir.ti_state, e.start_date, e.end_date, e.duration_ms,
    j.error, j.error_stack, e.hostname, coalesce(j.logs::jsonb, '[]'::jsonb)
  FROM ended e JOIN j ON j.run_id = e.run_id AND j.task_id = e.task_id
  RETURNING run_id, task_id
), outcomes AS (
  SELECT s.run_id, s.successor,
    count(*) FILTER (WHERE j.state = 'success')::int AS success,
    count(*) FILTER (WHERE j.state = 'failed')::int AS failed,
    count(*) FILTER (WHERE j.state = 'skipped')::int AS skipped
  FROM unnest($10::text[], $11::text[], $12::text[]) AS s(run_id, upstream, successor)
  JOIN ended e ON e.run_id = s.run_id AND e.task_id = s.upstream
  JOIN j ON j.run_id = s.run_id AND j.task_id = s.upstream
  GROUP BY s.run_id, s.successor
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
  FROM (
    SELECT e.run_id, count(*)::int AS n FROM ended e JOIN j ON j.run_id = e.run_id AND j.task_id = e.task_id
    WHERE j.final GROUP BY e.run_id
  ) f
  WHERE r.run_id = f.run_id
  RETURNING r.run_id, r.unfinished
)
SELECT 'ended' AS kind, run_id, task_id, NULL AS trigger_rule, 0 AS up_total, 0 AS up_success, 0 AS up_failed, 0 AS up_skipped, 0 AS up_upstream_failed, 0 AS unfinished FROM tried
UNION ALL
SELECT 'successor', run_id, task_id, trigger_rule, up_total, up_success, up_failed, up_skipped, up_upstream_failed, 0 FROM counted
UNION ALL
SELECT 'run', run_id, NULL, NULL, 0, 0, 0, 0, 0, unfinished FROM finished
