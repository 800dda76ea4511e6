-- admission_needed: whether a DAG has a run waiting for a slot and a slot free for it,
-- read without the admission lock (both from partial indexes: dag_run_waiting,
-- dag_run_holding). Asked after a commit that may have created a waiting run or freed a
-- slot: when it says no, whoever later makes it yes asks again after its own commit.
-- Planned with its values each call (sqlText). $1 dag_id, $2 max_active_runs,
-- $3 the states of a run that holds its slot (RUN_UNFINISHED)
SELECT EXISTS (
    SELECT 1 FROM weir.dag_run WHERE dag_id = $1 AND state = 'queued' AND NOT admitted
  ) AND (
    SELECT count(*) FROM weir.dag_run WHERE dag_id = $1 AND admitted AND state = ANY($3::weir.run_state[])
  ) < $2::int AS needed
