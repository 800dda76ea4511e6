-- list_pools: every pool with its slots, the slots running tries hold and the tries that
-- wait for it. No parameters.
SELECT p.name, p.slots, p.description, p.updated_at, p.updated_by,
  coalesce((SELECT sum(ti.pool_slots) FROM weir.task_instance ti WHERE ti.state = 'running' AND ti.pool = p.name), 0)::int AS running,
  (SELECT count(*) FROM weir.task_instance ti WHERE ti.waiting_pool = p.name AND ti.handed_back AND ti.state IN ('queued', 'up_for_retry'))::int AS waiting
FROM weir.pool p ORDER BY p.name
