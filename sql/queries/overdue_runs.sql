-- overdue_runs: running runs of a DAG that started longer ago than its dagrunTimeout.
-- $1 dag_id, $2 timeout (ms)
SELECT run_id FROM weir.dag_run
WHERE dag_id = $1 AND state = 'running'
  AND start_date < now() - make_interval(secs => $2::double precision / 1000)
