-- handed_back_tries: tries handed back by workers that could not run them (their DAG not
-- loaded there, or their pool full), of the DAGs a worker has loaded, oldest first; the
-- worker claims them with claim_task_instances or claim_pooled (their guard settles a race
-- between two adopters). $1 dag_id[], $2 limit, $3 claimable
-- states (TASK_CLAIMABLE)
SELECT r.dag_id, ti.run_id, ti.task_id, ti.try_number + 1 AS try_number
FROM weir.task_instance ti JOIN weir.dag_run r ON r.run_id = ti.run_id
WHERE ti.handed_back AND ti.state = ANY($3::weir.ti_state[]) AND r.dag_id = ANY($1::text[])
ORDER BY ti.queued_at NULLS FIRST
LIMIT $2
