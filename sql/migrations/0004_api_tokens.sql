-- Bearer tokens of weir's server: API tokens made by `weir tokens create` and the
-- sessions a login opens. Only a token's SHA-256 is stored; the token itself is shown
-- once, when it is made.
CREATE TABLE weir.api_token (
  token_id text PRIMARY KEY,
  name text NOT NULL,
  role text NOT NULL CHECK (role IN ('viewer', 'operator')),
  kind text NOT NULL CHECK (kind IN ('api', 'session')),
  token_hash bytea NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz,
  revoked_at timestamptz
);
CREATE UNIQUE INDEX api_token_name ON weir.api_token (name) WHERE kind = 'api' AND revoked_at IS NULL;
