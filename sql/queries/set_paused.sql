-- set_paused: pause or unpause a DAG (a row is created if the DAG has none yet),
-- and wake the schedulers. $1 dag_id, $2 is_paused
WITH changed AS (
  INSERT INTO weir.dag (dag_id, is_paused, updated_at) VALUES ($1, $2, now())
  ON CONFLICT (dag_id) DO UPDATE SET is_paused = EXCLUDED.is_paused, updated_at = now()
  RETURNING dag_id, is_paused
)
SELECT dag_id, is_paused, pg_notify('weir_dag_changed', dag_id) IS NULL AS notified FROM changed
