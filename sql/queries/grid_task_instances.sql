-- grid_task_instances: the state and try of every task instance of these runs (the
-- grid's cells), read by primary key. $1 run_id[]
SELECT run_id, task_id, state, try_number FROM weir.task_instance WHERE run_id = ANY($1::text[])
