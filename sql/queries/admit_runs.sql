-- admit_runs: queued runs of a DAG take the free slots under maxActiveRuns, oldest first;
-- returns, per admitted run, the task instances to start now (roots, and `always` tasks,
-- which wait for nothing), from the run's own shape, and one last row with the slots
-- still free (`free`, the other columns NULL). Constant time per run however long the
-- backlog: the waiting runs are read in admission order from their partial index
-- (dag_run_waiting), the slots held are counted from another (dag_run_holding, at most
-- maxActiveRuns entries), and the update goes through the primary key.
-- Planned with its values each call (sqlText: the partial index predicates must be proven).
-- Callers hold the DAG's advisory admission lock (runs.ts admitLocked), which makes the
-- count and the update exact under any concurrency.
-- $1 dag_id, $2 max_active_runs, $3 the states of a run that holds its slot (RUN_UNFINISHED)
WITH held AS (
  SELECT count(*)::int AS n FROM weir.dag_run
  WHERE dag_id = $1 AND admitted AND state = ANY($3::weir.run_state[])
), next AS (
  SELECT run_id FROM weir.dag_run
  WHERE dag_id = $1 AND state = 'queued' AND NOT admitted
  ORDER BY logical_date, created_at
  LIMIT greatest($2::int - (SELECT n FROM held), 0)
), admitted AS (
  -- Through the primary key only. A from-state guard here would let the planner scan a
  -- partial index instead, which stale statistics after a bulk insert make look cheap (72 ms
  -- at a 50,000-run backlog, measured). The lock makes `next` exact; the one writer that can
  -- race it, cancel_run, leaves a failed run whose task instances nothing can queue.
  UPDATE weir.dag_run r SET admitted = true
  WHERE r.run_id = ANY(ARRAY(SELECT run_id FROM next))
  RETURNING r.run_id, r.queue, r.state
)
SELECT a.run_id, a.queue, ti.task_id, NULL::int AS free
FROM admitted a JOIN weir.task_instance ti ON ti.run_id = a.run_id
WHERE a.state = 'queued' AND (ti.up_total = 0 OR ti.trigger_rule = 'always')
UNION ALL
SELECT NULL, NULL, NULL, greatest($2::int - (SELECT n FROM held) - (SELECT count(*) FROM admitted WHERE state = 'queued')::int, 0)
