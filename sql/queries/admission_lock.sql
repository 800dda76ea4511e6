-- admission_lock: wait for the DAG's admission lock, for this transaction (only the short
-- transaction of an admission after a commit waits for it). $1 dag_id
SELECT pg_advisory_xact_lock(hashtext('weir.admit'), hashtext($1))
