-- insert_token: a new token (its hash only). $1 token_id, $2 name, $3 role, $4 kind,
-- $5 token_hash, $6 lifetime in seconds or NULL (no expiry)
INSERT INTO weir.api_token (token_id, name, role, kind, token_hash, expires_at)
VALUES ($1, $2, $3, $4, $5, CASE WHEN $6::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => $6::float8) END)
RETURNING token_id, name, role, kind, created_at, expires_at
