-- daily_revenue: the sum of one day's order amounts.
-- $1 day  date  the day checked
-- Returns one row: value numeric (NULL when the day has no orders), rows bigint.
SELECT sum(amount) AS value, count(*) AS rows
FROM example.orders
WHERE day = $1::date
