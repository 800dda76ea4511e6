-- register_dags: make sure every loaded DAG has a row (paused state lives there);
-- existing rows keep their state; a new one starts paused when its DAG says
-- pausedOnCreation. $1 dag_id[], $2 paused_on_creation[]
INSERT INTO weir.dag (dag_id, is_paused)
SELECT d.id, d.paused FROM unnest($1::text[], $2::bool[]) AS d(id, paused)
ON CONFLICT (dag_id) DO NOTHING
