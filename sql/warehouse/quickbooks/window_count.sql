-- Rows of one raw table last updated in [$1, $2): the volumetry check's table side.
-- $3 entity: 'invoices' | 'customers' | 'items'
SELECT CASE $3::text
  WHEN 'invoices' THEN (SELECT count(*) FROM raw.qb_invoices WHERE last_updated_utc >= $1 AND last_updated_utc < $2)
  WHEN 'customers' THEN (SELECT count(*) FROM raw.qb_customers WHERE last_updated_utc >= $1 AND last_updated_utc < $2)
  WHEN 'items' THEN (SELECT count(*) FROM raw.qb_items WHERE last_updated_utc >= $1 AND last_updated_utc < $2)
END::int AS n
