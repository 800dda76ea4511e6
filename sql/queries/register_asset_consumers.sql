-- register_asset_consumers: the assets each loaded DAG's trigger waits for, replacing what
-- was registered for those DAGs before (a DAG whose trigger no longer names an asset stops
-- consuming it). $1 dag_id[] (every DAG this scheduler loaded), $2 dag_id[], $3 asset[]
-- (parallel: one pair per consumed asset)
WITH wanted AS (
  SELECT * FROM unnest($2::text[], $3::text[]) AS w(dag_id, asset)
), dropped AS (
  DELETE FROM weir.asset_consumer c WHERE c.dag_id = ANY($1::text[])
    AND NOT EXISTS (SELECT 1 FROM wanted w WHERE w.dag_id = c.dag_id AND w.asset = c.asset)
  RETURNING 1
)
INSERT INTO weir.asset_consumer (asset, dag_id)
SELECT asset, dag_id FROM wanted
ON CONFLICT DO NOTHING
