-- set_secret: store a sealed value (new, or replacing the old one: its version grows).
-- $1 name, $2 nonce, $3 ciphertext, $4 tag, $5 key_id, $6 updated_by. Returns the version.
INSERT INTO weir.secret (name, nonce, ciphertext, tag, key_id, updated_by)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (name) DO UPDATE SET nonce = EXCLUDED.nonce, ciphertext = EXCLUDED.ciphertext, tag = EXCLUDED.tag,
  key_id = EXCLUDED.key_id, version = weir.secret.version + 1, updated_at = now(), updated_by = EXCLUDED.updated_by
RETURNING version
