-- consume_asset_queue: when every asset a DAG waits for has an event queued for it, take
-- them all (deleted, locked against a second scheduler) for one run; otherwise nothing.
-- Run in the transaction that creates the run. $1 dag_id, $2 asset[] (what it waits for)
-- Returns the consumed (asset, event_id, producer) rows, oldest first.
WITH q AS (
  SELECT asset, event_id FROM weir.asset_queue WHERE dag_id = $1 AND asset = ANY($2::text[]) FOR UPDATE
), due AS (
  SELECT 1 WHERE (SELECT count(DISTINCT asset) FROM q) = cardinality($2::text[])
), taken AS (
  DELETE FROM weir.asset_queue a USING q
  WHERE a.dag_id = $1 AND a.asset = q.asset AND a.event_id = q.event_id AND EXISTS (SELECT 1 FROM due)
  RETURNING a.asset, a.event_id
)
SELECT t.asset, t.event_id, e.dag_id AS producer_dag_id, e.run_id AS producer_run_id, e.task_id AS producer_task_id
FROM taken t JOIN weir.asset_event e ON e.id = t.event_id
ORDER BY t.event_id
