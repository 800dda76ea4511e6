-- register_dags: make sure every loaded DAG has a row (paused state lives there);
-- existing rows keep their state. $1 dag_id[]
INSERT INTO weir.dag (dag_id)
SELECT unnest($1::text[])
ON CONFLICT (dag_id) DO NOTHING
