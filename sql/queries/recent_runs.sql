-- recent_runs: the latest $2 runs of each DAG in $1, newest first, each read from the
-- dag_run_dag_created index (a few rows per DAG however long its history).
-- $1 dag_id[], $2 runs per DAG
SELECT d.dag_id, r.run_id, r.state, r.logical_date
FROM unnest($1::text[]) AS d(dag_id)
CROSS JOIN LATERAL (
  SELECT run_id, state, logical_date FROM weir.dag_run
  WHERE dag_id = d.dag_id ORDER BY created_at DESC, run_id DESC LIMIT $2
) r
