-- secret_lock: hold a secret's session lock (a refresh-token rotation, one process at a time);
-- released by secret_unlock or when the session ends (a process that dies lets go). $1 name
SELECT pg_advisory_lock(hashtextextended('weir.secret:' || $1, 0))
