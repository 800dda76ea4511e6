-- prune_workers: registry rows of workers stopped or silent for longer than $1 days are
-- deleted. Without it the registry kept a row per worker start for ever, and lost_tries.sql
-- reads it whole at every reap. A live worker heartbeats its row (last_seen_at; a clean stop
-- sets it too), so only rows of workers gone for that long go. Run by each worker at start
-- and every 6 hours. $1 days kept
DELETE FROM weir.worker
WHERE last_seen_at < now() - make_interval(days => $1::int)
