-- claim_pooled: claim_task_instances for tries of pooled tasks, run after lock_pools in one
-- transaction: in the order given, a try is claimed (queued/up_for_retry -> running, holding
-- its pool and slots) while its pool's running slots plus the ones claimed before it fit
-- the pool's size; the others are handed back to wait, marked with the pool (a pool that
-- does not exist has no slots). Returns claim_task_instances' columns for the claimed.
-- $1 run_id[], $2 task_id[], $3 try_number[], $4 pool[], $5 pool_slots[] (parallel),
-- $6 hostname, $7 claimable states (TASK_CLAIMABLE)
WITH j AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::int[]) WITH ORDINALITY AS j(run_id, task_id, try_number, pool, pool_slots, ord)
), live AS (
  -- Only tries that are still the expected next one count against the slots.
  SELECT j.* FROM j JOIN weir.task_instance ti ON ti.run_id = j.run_id AND ti.task_id = j.task_id
  WHERE ti.state = ANY($7::weir.ti_state[]) AND ti.try_number = j.try_number - 1
), used AS (
  SELECT ti.pool, sum(ti.pool_slots)::int AS used FROM weir.task_instance ti
  WHERE ti.state = 'running' AND ti.pool = ANY($4::text[]) GROUP BY ti.pool
), fits AS (
  SELECT l.* FROM (SELECT live.*, sum(live.pool_slots) OVER (PARTITION BY live.pool ORDER BY live.ord) AS cum FROM live) l
  JOIN weir.pool p ON p.name = l.pool
  LEFT JOIN used u ON u.pool = l.pool
  WHERE coalesce(u.used, 0) + l.cum <= p.slots
), claimed AS (
  UPDATE weir.task_instance ti SET
    state = 'running', try_number = f.try_number, start_date = now(), end_date = NULL,
    duration_ms = NULL, heartbeat_at = now(), hostname = $6, handed_back = false,
    pool = f.pool, pool_slots = f.pool_slots, waiting_pool = NULL
  FROM fits f
  WHERE ti.run_id = f.run_id AND ti.task_id = f.task_id
    AND ti.state = ANY($7::weir.ti_state[]) AND ti.try_number = f.try_number - 1
  RETURNING ti.run_id, ti.task_id, ti.try_number, ti.max_tries, ti.start_date
), waiting AS (
  UPDATE weir.task_instance ti SET handed_back = true, waiting_pool = l.pool
  FROM live l
  WHERE ti.run_id = l.run_id AND ti.task_id = l.task_id
    AND NOT EXISTS (SELECT 1 FROM fits f WHERE f.run_id = l.run_id AND f.task_id = l.task_id)
  RETURNING ti.run_id
), started AS (
  UPDATE weir.dag_run r SET state = 'running', start_date = coalesce(r.start_date, now())
  WHERE r.run_id IN (SELECT run_id FROM claimed) AND r.state = 'queued'
  RETURNING r.run_id
)
SELECT c.run_id, c.task_id, c.try_number, c.max_tries, c.start_date,
  r.dag_id, r.conf, r.logical_date, r.data_interval_start, r.data_interval_end, r.queue,
  pg_notify('weir_events', c.run_id) IS NULL AS announced
FROM claimed c JOIN weir.dag_run r ON r.run_id = c.run_id
