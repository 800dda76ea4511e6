-- summary_days: the KPIs of the seven days up to and including $1 (a date), oldest first.
SELECT to_char(day, 'YYYY-MM-DD') AS day, revenue::float8 AS revenue, orders, avg_order_value::float8 AS avg_order_value,
       new_customers, returning_customers, by_category, by_channel, top_products
FROM sales.daily_kpis WHERE day > $1::date - 7 AND day <= $1::date ORDER BY day
