-- grid_task_instances: the state and try of every task of these runs (the grid's cells); a
-- mapped task's instances make one cell: success once all are, failed or running if one
-- is, else the first other state. $1 run_id[]
SELECT run_id, coalesce(map_task, task_id) AS task_id,
  CASE WHEN bool_and(state = 'success') THEN 'success'
    WHEN bool_or(state = 'failed') THEN 'failed'
    WHEN bool_or(state = 'running') THEN 'running'
    ELSE (array_agg(state::text ORDER BY state::text) FILTER (WHERE state <> 'success'))[1] END AS state,
  max(try_number)::int AS try_number
FROM weir.task_instance WHERE run_id = ANY($1::text[])
GROUP BY run_id, coalesce(map_task, task_id)
