-- task_output: a task instance's state and stored output (Airflow's XCom view). $1 run_id, $2 task_id
SELECT task_id, state, try_number, output FROM weir.task_instance WHERE run_id = $1 AND task_id = $2
