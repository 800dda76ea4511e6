-- hand_back: a worker fetched tries of a DAG it cannot run (not loaded, or broken there):
-- their task instances wait, marked, for a worker that has the DAG to adopt them; the
-- notification tells such workers at once. $1 run_id[], $2 task_id[], $3 try_number[]
-- (parallel: the try each job would start), $4 claimable states (TASK_CLAIMABLE)
UPDATE weir.task_instance ti SET handed_back = true
FROM unnest($1::text[], $2::text[], $3::int[]) AS h(run_id, task_id, try_number)
WHERE ti.run_id = h.run_id AND ti.task_id = h.task_id AND ti.try_number = h.try_number - 1
  AND ti.state = ANY($4::weir.ti_state[])
RETURNING ti.run_id, ti.task_id, pg_notify('weir_handed_back', (SELECT dag_id FROM weir.dag_run r WHERE r.run_id = ti.run_id)) IS NULL AS notified
