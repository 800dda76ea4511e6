-- try_admission_lock: the DAG's admission lock for this transaction, only if it is free
-- (a trigger, a run's end or a cancel never waits for it). $1 dag_id
SELECT pg_try_advisory_xact_lock(hashtext('weir.admit'), hashtext($1)) AS got
