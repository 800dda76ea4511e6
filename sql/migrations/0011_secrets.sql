-- The secrets store (Airflow's Connections and Variables, encrypted): each value sealed
-- with AES-256-GCM under the key in WEIR_SECRET_KEY or the key file under WEIR_HOME, its
-- name bound in as associated data (a value cannot be moved to another name). `key_id`
-- names the key that sealed it, so a process holding another key says so instead of
-- failing to decrypt. `version` grows with every write (a rotated refresh token).
CREATE TABLE weir.secret (
  name        text PRIMARY KEY CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]{0,127}$'),
  nonce       bytea NOT NULL,
  ciphertext  bytea NOT NULL,
  tag         bytea NOT NULL,
  key_id      text NOT NULL,
  version     integer NOT NULL DEFAULT 1,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  updated_by  text NOT NULL
);
