-- delete_secret: forget a secret. $1 name. Returns the name when it existed.
DELETE FROM weir.secret WHERE name = $1 RETURNING name
