-- record_asset_events: a successful try's assets (its task's `produces`), each an event
-- queued for every DAG that consumes the asset; announced on `weir_assets` (payload: the
-- consumer's dag_id) at commit, so schedulers look at once.
-- $1 dag_id, $2 run_id, $3 task_id, $4 try_number, $5 asset[]
WITH ev AS (
  INSERT INTO weir.asset_event (asset, dag_id, run_id, task_id, try_number)
  SELECT a, $1, $2, $3, $4 FROM unnest($5::text[]) AS a
  RETURNING id, asset
), queued AS (
  INSERT INTO weir.asset_queue (dag_id, asset, event_id)
  SELECT c.dag_id, ev.asset, ev.id FROM ev JOIN weir.asset_consumer c ON c.asset = ev.asset
  RETURNING dag_id
)
SELECT DISTINCT dag_id FROM queued WHERE pg_notify('weir_assets', dag_id) IS NOT NULL -- always true (void is not null)
