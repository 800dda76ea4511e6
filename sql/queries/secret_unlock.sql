-- secret_unlock: let go of secret_lock. $1 name
SELECT pg_advisory_unlock(hashtextextended('weir.secret:' || $1, 0))
