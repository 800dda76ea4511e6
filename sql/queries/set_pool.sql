-- set_pool: create or resize a pool. $1 name, $2 slots, $3 description (NULL keeps it), $4 updated_by
INSERT INTO weir.pool (name, slots, description, updated_by) VALUES ($1, $2, $3, $4)
ON CONFLICT (name) DO UPDATE SET slots = EXCLUDED.slots, description = coalesce(EXCLUDED.description, weir.pool.description),
  updated_at = now(), updated_by = EXCLUDED.updated_by
RETURNING name, slots
