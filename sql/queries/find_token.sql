-- find_token: the live token with this hash (not revoked, not expired). $1 token_hash
SELECT token_id, name, role, kind FROM weir.api_token
WHERE token_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
