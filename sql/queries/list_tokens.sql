-- list_tokens: API tokens, live ones first, newest first (never their hashes).
SELECT token_id, name, role, created_at, revoked_at FROM weir.api_token
WHERE kind = 'api'
ORDER BY (revoked_at IS NULL) DESC, created_at DESC
