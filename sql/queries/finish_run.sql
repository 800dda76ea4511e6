-- finish_run: the last task instance of these runs finished; a run fails if any leaf
-- failed or is upstream_failed (weir.run_outcome: Airflow's rule; a mapped leaf's instances count as that leaf). $1 run_id[], $2 leaf states that fail the run
-- (TASK_FAILED), $3 run states it ends from (RUN_UNFINISHED). Each ended run is announced
-- on `weir_run` (`<run_id>:<state>`) at commit, in the same statement.
UPDATE weir.dag_run r SET
  state = weir.run_outcome(r.run_id, r.leaves, $2::weir.ti_state[]),
  start_date = coalesce(r.start_date, now()),
  end_date = now()
WHERE r.run_id = ANY($1::text[]) AND r.state = ANY($3::weir.run_state[])
RETURNING r.run_id, r.state, r.dag_id, r.run_type, pg_notify('weir_run', r.run_id || ':' || r.state::text) IS NULL AS announced
