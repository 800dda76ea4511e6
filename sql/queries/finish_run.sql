-- finish_run: the last task instance of these runs finished; a run fails if any leaf
-- failed or is upstream_failed (Airflow's rule). $1 run_id[]
UPDATE weir.dag_run r SET
  state = CASE WHEN EXISTS (
    SELECT 1 FROM weir.task_instance ti
    WHERE ti.run_id = r.run_id AND ti.task_id = ANY(r.leaves) AND ti.state IN ('failed', 'upstream_failed')
  ) THEN 'failed'::weir.run_state ELSE 'success'::weir.run_state END,
  start_date = coalesce(r.start_date, now()),
  end_date = now()
WHERE r.run_id = ANY($1::text[]) AND r.state IN ('queued', 'running')
RETURNING r.run_id, r.state, r.dag_id
