-- count_upstream_outcomes: add finished upstream outcomes to waiting successors (any
-- number of runs at once); one row lock per successor, so parallel branches never
-- contend on a shared row. Parallel arrays: $1 run_id[], $2 successor task_id[],
-- $3 upstream final state[]. Returns each successor's counters and its trigger rule's decision (weir.trigger_decision).
UPDATE weir.task_instance ti SET
  up_success = ti.up_success + d.success,
  up_failed = ti.up_failed + d.failed,
  up_skipped = ti.up_skipped + d.skipped,
  up_upstream_failed = ti.up_upstream_failed + d.upstream_failed
FROM (
  SELECT run_id, task_id,
    count(*) FILTER (WHERE state = 'success')::int AS success,
    count(*) FILTER (WHERE state = 'failed')::int AS failed,
    count(*) FILTER (WHERE state = 'skipped')::int AS skipped,
    count(*) FILTER (WHERE state = 'upstream_failed')::int AS upstream_failed
  FROM unnest($1::text[], $2::text[], $3::text[]) AS u(run_id, task_id, state)
  GROUP BY run_id, task_id
) d
WHERE ti.run_id = d.run_id AND ti.task_id = d.task_id AND ti.state = 'none'
RETURNING ti.run_id, ti.task_id, ti.trigger_rule, ti.up_total, ti.up_success, ti.up_failed, ti.up_skipped, ti.up_upstream_failed,
  weir.trigger_decision(ti.trigger_rule, ti.up_total, ti.up_success, ti.up_failed, ti.up_skipped, ti.up_upstream_failed) AS decision
