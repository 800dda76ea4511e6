-- pool_freed: a pool has room again (a try holding it ended, or `weir pools set` resized
-- it): wake the workers of the DAGs whose tries wait for it (`weir_handed_back`, payload
-- the dag_id). $1 pool name[]
SELECT DISTINCT r.dag_id, pg_notify('weir_handed_back', r.dag_id) IS NULL AS notified
FROM weir.task_instance ti JOIN weir.dag_run r ON r.run_id = ti.run_id
WHERE ti.waiting_pool = ANY($1::text[]) AND ti.handed_back AND ti.state IN ('queued', 'up_for_retry')
