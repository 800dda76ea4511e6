-- slot_holders: the runs of a DAG that hold its maxActiveRuns slots (admitted, not
-- finished), oldest first, from the dag_run_holding index. $1 dag_id, $2 at most this many
SELECT run_id, state FROM weir.dag_run
WHERE dag_id = $1 AND admitted AND state IN ('queued', 'running')
ORDER BY created_at, run_id
LIMIT $2
