-- set_dag_state: write a DAG's state keys, one statement for all; a null value deletes the
-- key. Called in the transaction that records a try's success, or by `weir state set`.
-- $1 dag_id, $2 key[], $3 value[] (JSON text, null = delete), $4 updated_by
WITH w AS (
  SELECT k.key, k.value::jsonb AS value FROM unnest($2::text[], $3::text[]) AS k(key, value)
), deleted AS (
  DELETE FROM weir.dag_state s USING w WHERE s.dag_id = $1 AND s.key = w.key AND w.value IS NULL RETURNING s.key
)
INSERT INTO weir.dag_state (dag_id, key, value, updated_at, updated_by)
SELECT $1, key, value, now(), $4 FROM w WHERE value IS NOT NULL
ON CONFLICT (dag_id, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now(), updated_by = EXCLUDED.updated_by
