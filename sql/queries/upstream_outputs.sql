-- upstream_outputs: stored outputs a task may read. $1 run_id, $2 task_id[]
SELECT task_id, output FROM weir.task_instance
WHERE run_id = $1 AND task_id = ANY($2::text[]) AND state = 'success'
