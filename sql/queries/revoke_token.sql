-- revoke_token: end a token that is not ended yet, by id or by an API token's name.
-- $1 token_id or name, $2 kind or NULL (any)
UPDATE weir.api_token SET revoked_at = now()
WHERE (token_id = $1 OR (name = $1 AND kind = 'api')) AND revoked_at IS NULL AND ($2::text IS NULL OR kind = $2)
RETURNING token_id, name, role, kind
