-- task_output: a task instance's state and stored output (Airflow's XCom view); for a
-- mapped task's own id, its instances as one: success once all are, the outputs as a list
-- in map_index order. $1 run_id, $2 task_id
SELECT task_id, state, try_number, output FROM weir.task_instance WHERE run_id = $1 AND task_id = $2
UNION ALL
SELECT map_task,
  CASE WHEN bool_and(state = 'success') THEN 'success'::weir.ti_state ELSE (array_agg(state) FILTER (WHERE state <> 'success'))[1] END,
  max(try_number), jsonb_agg(output ORDER BY map_index)
FROM weir.task_instance WHERE run_id = $1 AND map_task = $2
GROUP BY map_task
