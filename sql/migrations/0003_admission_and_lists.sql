-- 0003: admission in constant time per run and lists on indexes (issue 12).

-- Runs waiting for a slot under maxActiveRuns, in the order admission takes them.
CREATE INDEX dag_run_waiting ON weir.dag_run (dag_id, logical_date, created_at)
  WHERE state = 'queued' AND NOT admitted;
-- Runs holding a slot, counted by admission: at most maxActiveRuns entries per DAG.
CREATE INDEX dag_run_holding ON weir.dag_run (dag_id)
  WHERE admitted AND state IN ('queued', 'running');

-- `weir runs list`, newest first, keyset-paged by (created_at, run_id): across DAGs, of one
-- DAG, in one state, and of one DAG in one state.
CREATE INDEX dag_run_created ON weir.dag_run (created_at DESC, run_id DESC);
DROP INDEX weir.dag_run_dag_created;
CREATE INDEX dag_run_dag_created ON weir.dag_run (dag_id, created_at DESC, run_id DESC);
CREATE INDEX dag_run_state_created ON weir.dag_run (state, created_at DESC, run_id DESC);
CREATE INDEX dag_run_dag_state_created ON weir.dag_run (dag_id, state, created_at DESC, run_id DESC);
