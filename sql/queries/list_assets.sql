-- list_assets: every asset known from events or consumers, with its latest event, its
-- event count, its consumers and the events queued for them. No parameters.
WITH names AS (
  SELECT asset FROM weir.asset_event UNION SELECT asset FROM weir.asset_consumer
)
SELECT n.asset,
  (SELECT count(*)::int FROM weir.asset_event e WHERE e.asset = n.asset) AS events,
  last.created_at AS last_event_at, last.dag_id AS last_dag_id, last.run_id AS last_run_id, last.task_id AS last_task_id,
  coalesce((SELECT array_agg(c.dag_id ORDER BY c.dag_id) FROM weir.asset_consumer c WHERE c.asset = n.asset), '{}') AS consumers,
  (SELECT count(*)::int FROM weir.asset_queue q WHERE q.asset = n.asset) AS queued
FROM names n
LEFT JOIN LATERAL (SELECT * FROM weir.asset_event e WHERE e.asset = n.asset ORDER BY e.id DESC LIMIT 1) last ON true
ORDER BY n.asset
