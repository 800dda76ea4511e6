-- delete_pool: remove a pool (tries that name it then wait until it exists again). $1 name
DELETE FROM weir.pool WHERE name = $1 RETURNING name
