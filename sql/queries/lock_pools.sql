-- lock_pools: hold the named pools' rows for this transaction (claims of one pool take
-- turns, so two workers never both see its last slot free). $1 name[]
SELECT name FROM weir.pool WHERE name = ANY($1::text[]) ORDER BY name FOR UPDATE
