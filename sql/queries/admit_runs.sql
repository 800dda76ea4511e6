-- admit_runs: queued runs of a DAG take the free slots under maxActiveRuns, oldest first;
-- returns, per admitted run, the task instances to start now (roots, and `always` tasks,
-- which wait for nothing), from the run's own shape. Constant time per run however long
-- the backlog: the waiting runs are read in admission order from their partial index
-- (dag_run_waiting), the slots held are counted from another (dag_run_holding, at most
-- maxActiveRuns entries), and the update goes through the primary key.
-- Callers hold the DAG's advisory admission lock (runs.ts admitRuns), which makes the
-- count and the update exact under any concurrency.
-- $1 dag_id, $2 max_active_runs, $3 the states of a run that holds its slot (RUN_UNFINISHED)
WITH next AS (
  SELECT run_id FROM weir.dag_run
  WHERE dag_id = $1 AND state = 'queued' AND NOT admitted
  ORDER BY logical_date, created_at
  LIMIT greatest($2::int - (
    SELECT count(*) FROM weir.dag_run
    WHERE dag_id = $1 AND admitted AND state = ANY($3::weir.run_state[])
  )::int, 0)
), admitted AS (
  UPDATE weir.dag_run r SET admitted = true
  WHERE r.run_id = ANY(ARRAY(SELECT run_id FROM next)) AND r.state = 'queued' AND NOT r.admitted
  RETURNING r.run_id, r.queue
)
SELECT a.run_id, a.queue, ti.task_id
FROM admitted a JOIN weir.task_instance ti ON ti.run_id = a.run_id
WHERE ti.up_total = 0 OR ti.trigger_rule = 'always'
