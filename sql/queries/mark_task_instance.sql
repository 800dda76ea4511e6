-- mark_task_instance: Airflow's "mark success / mark failed" of one finished task instance
-- of a finished run (downstream untouched), with the run's state decided again by the
-- leaf rule (finish_run's) as it is after the change. The run is announced on
-- `weir_events`. $1 run_id, $2 task_id, $3 new state, $4 finished TI states
-- (TASK_FINISHED), $5 leaf states that fail a run (TASK_FAILED; a mapped leaf's instances count
-- as that leaf), $6 finished run states
WITH marked AS (
  UPDATE weir.task_instance ti SET state = $3::weir.ti_state, end_date = coalesce(ti.end_date, now())
  FROM weir.dag_run r
  WHERE ti.run_id = $1 AND ti.task_id = $2 AND r.run_id = ti.run_id
    AND ti.state = ANY($4::weir.ti_state[]) AND r.state = ANY($6::weir.run_state[])
  RETURNING ti.run_id, ti.task_id, ti.state, coalesce(ti.map_task, ti.task_id) AS leaf
), decided AS (
  UPDATE weir.dag_run r SET state = CASE
      WHEN (m.leaf = ANY(r.leaves) AND $3::weir.ti_state = ANY($5::weir.ti_state[])) OR EXISTS (
        SELECT 1 FROM weir.task_instance ti
        WHERE ti.run_id = r.run_id AND coalesce(ti.map_task, ti.task_id) = ANY(r.leaves) AND ti.task_id <> $2 AND ti.state = ANY($5::weir.ti_state[])
      ) THEN 'failed'::weir.run_state ELSE 'success'::weir.run_state END
  FROM marked m WHERE r.run_id = m.run_id
  RETURNING r.run_id, r.state
)
SELECT m.run_id, m.task_id, m.state, d.state AS run_state, pg_notify('weir_events', m.run_id) IS NULL AS announced
FROM marked m JOIN decided d ON d.run_id = m.run_id
