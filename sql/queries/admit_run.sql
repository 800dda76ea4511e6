-- admit_run: a queued run takes an active slot. $1 run_id
UPDATE weir.dag_run SET admitted = true
WHERE run_id = $1 AND NOT admitted AND state = 'queued'
RETURNING run_id
