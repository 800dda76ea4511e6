-- clean_customers: one run's ingested customers into customers_clean. $1 run_id.
-- Names trimmed with inner spaces collapsed; emails lower-cased, and one that is not an
-- email becomes null (counted, and reported by a warn check); a repeated customer_id
-- keeps its first line. Returns input, kept, emails_cleared, duplicates.
WITH raw AS (
  SELECT r.*, row_number() OVER (PARTITION BY customer_id ORDER BY line) AS copy
  FROM sales_stage.customers_raw r WHERE r.run_id = $1
), kept AS (
  INSERT INTO sales_stage.customers_clean (run_id, customer_id, name, email, segment, country, signup_date)
  SELECT run_id, customer_id, regexp_replace(btrim(name), '\s+', ' ', 'g'),
         CASE WHEN lower(btrim(email)) ~ '^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$' THEN lower(btrim(email)) END,
         segment, upper(country), signup_date
  FROM raw WHERE copy = 1
  RETURNING email
), rejected AS (
  INSERT INTO sales_stage.rejects (run_id, stage, source, line, reason, record)
  SELECT run_id, 'clean', 'customers.json', line, 'duplicate customer_id', customer_id FROM raw WHERE copy > 1
  RETURNING 1
)
SELECT (SELECT count(*) FROM raw)::int AS input,
       (SELECT count(*) FROM kept)::int AS kept,
       (SELECT count(*) FROM kept WHERE email IS NULL)::int AS emails_cleared,
       (SELECT count(*) FROM rejected)::int AS duplicates
