-- count_finished: $2 task instances of run $1 finished; returns what is left.
-- $1 run_id, $2 finished count
UPDATE weir.dag_run SET unfinished = unfinished - $2
WHERE run_id = $1
RETURNING unfinished, state, dag_id
