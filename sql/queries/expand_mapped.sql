-- expand_mapped: ready mapped-task templates -> one task instance per item of the list
-- their `map_over` task returned (`task[i]`, map_task, map_index: runtime/loader/graph.ts
-- instanceId reads the same shape), in one statement: the template is deleted, the
-- instances inherit its retries, trigger rule, upstream counters and downstream edges,
-- successors count N upstream instances instead of 1, the upstream tasks' edges point at
-- the instances (so a clear reaches them), and the run has N - 1 more unfinished.
-- Guarded: a template still `none`; one whose list is empty or missing is left alone and
-- returned as 'empty' (the caller skips it, as Airflow does).
-- Parallel arrays: $1 run_id[], $2 task_id[] (ready pairs; those that are not templates are ignored)
-- Returns 'instance' rows (run_id, task_id, counters: ready to start) and 'empty' rows (run_id, task_id).
WITH cand AS (
  SELECT ti.run_id, ti.task_id,
    CASE WHEN u.state = 'success' AND jsonb_typeof(u.output) = 'array' THEN jsonb_array_length(u.output) ELSE 0 END AS n
  FROM unnest($1::text[], $2::text[]) AS q(run_id, task_id)
  JOIN weir.task_instance ti ON ti.run_id = q.run_id AND ti.task_id = q.task_id
  LEFT JOIN weir.task_instance u ON u.run_id = ti.run_id AND u.task_id = ti.map_over
  WHERE ti.state = 'none' AND ti.map_over IS NOT NULL AND ti.map_task IS NULL
), tpl AS (
  DELETE FROM weir.task_instance ti USING cand
  WHERE ti.run_id = cand.run_id AND ti.task_id = cand.task_id AND cand.n > 0 AND ti.state = 'none'
  RETURNING ti.*, cand.n
), items AS (
  SELECT tpl.run_id, tpl.task_id AS map_task, i AS map_index, tpl.task_id || '[' || i || ']' AS task_id
  FROM tpl CROSS JOIN LATERAL generate_series(0, tpl.n - 1) AS i
), inserted AS (
  INSERT INTO weir.task_instance (run_id, task_id, map_task, map_index, max_tries, trigger_rule,
    up_total, up_success, up_failed, up_skipped, up_upstream_failed, downstream)
  SELECT i.run_id, i.task_id, i.map_task, i.map_index, tpl.max_tries, tpl.trigger_rule,
    tpl.up_total, tpl.up_success, tpl.up_failed, tpl.up_skipped, tpl.up_upstream_failed, tpl.downstream
  FROM items i JOIN tpl ON tpl.run_id = i.run_id AND tpl.task_id = i.map_task
  RETURNING run_id, task_id, trigger_rule, up_total, up_success, up_failed, up_skipped, up_upstream_failed
), successors AS (
  UPDATE weir.task_instance s SET up_total = s.up_total + x.extra
  FROM (
    SELECT tpl.run_id, d.successor, sum(tpl.n - 1)::int AS extra
    FROM tpl CROSS JOIN LATERAL unnest(tpl.downstream) AS d(successor)
    GROUP BY tpl.run_id, d.successor
  ) x
  WHERE s.run_id = x.run_id AND s.task_id = x.successor
  RETURNING 1
), upstreams AS (
  UPDATE weir.task_instance u SET downstream =
    ARRAY(SELECT d FROM unnest(u.downstream) AS d WHERE NOT EXISTS (SELECT 1 FROM tpl WHERE tpl.run_id = u.run_id AND tpl.task_id = d))
    || ARRAY(SELECT i.task_id FROM items i WHERE i.run_id = u.run_id AND i.map_task = ANY(u.downstream) ORDER BY i.map_task, i.map_index)
  WHERE u.run_id IN (SELECT run_id FROM tpl)
    AND EXISTS (SELECT 1 FROM tpl WHERE tpl.run_id = u.run_id AND tpl.task_id = ANY(u.downstream))
  RETURNING 1
), runs AS (
  UPDATE weir.dag_run r SET unfinished = r.unfinished + x.extra
  FROM (SELECT run_id, sum(n - 1)::int AS extra FROM tpl GROUP BY run_id) x
  WHERE r.run_id = x.run_id
  RETURNING 1
)
SELECT 'instance' AS kind, run_id, task_id, trigger_rule, up_total, up_success, up_failed, up_skipped, up_upstream_failed FROM inserted
UNION ALL
SELECT 'empty', run_id, task_id, NULL, 0, 0, 0, 0, 0 FROM cand WHERE n = 0
