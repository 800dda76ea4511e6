-- get_dag_state: a DAG's state, or one key of it. $1 dag_id, $2 key (null: all keys)
SELECT key, value, updated_at, updated_by FROM weir.dag_state
WHERE dag_id = $1 AND ($2::text IS NULL OR key = $2) ORDER BY key
