-- upstream_outputs: stored outputs a task may read. $1 run_id, $2 task_id[]
-- A mapped task's output is the list of its successful instances' outputs, in map_index order.
SELECT task_id, output FROM weir.task_instance
WHERE run_id = $1 AND task_id = ANY($2::text[]) AND map_task IS NULL AND state = 'success'
UNION ALL
SELECT map_task, jsonb_agg(output ORDER BY map_index) FROM weir.task_instance
WHERE run_id = $1 AND map_task = ANY($2::text[]) AND state = 'success'
GROUP BY map_task
