-- list_secrets: the stored names and when they were written; never a value. No parameters.
SELECT name, version, key_id, updated_at, updated_by FROM weir.secret ORDER BY name
