-- get_secret: one sealed value. $1 name
SELECT name, nonce, ciphertext, tag, key_id, version, updated_at, updated_by FROM weir.secret WHERE name = $1
