-- admit_runs: queued runs of a DAG take the free slots under maxActiveRuns, oldest first.
-- Callers hold the DAG's advisory admission lock. $1 dag_id, $2 max_active_runs
UPDATE weir.dag_run r SET admitted = true
FROM (
  SELECT run_id FROM weir.dag_run
  WHERE dag_id = $1 AND NOT admitted AND state = 'queued'
  ORDER BY logical_date, created_at
  LIMIT greatest($2::int - (
    SELECT count(*) FROM weir.dag_run
    WHERE dag_id = $1 AND admitted AND state IN ('queued', 'running')
  )::int, 0)
) next
WHERE r.run_id = next.run_id
RETURNING r.run_id, r.queue
