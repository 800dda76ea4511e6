-- report_day: the day a run reports on: $1 (a date) when it has orders, else the latest
-- day before it that has. $1 date. Returns day (text) or no row.
SELECT to_char(max(day), 'YYYY-MM-DD') AS day FROM sales.daily_kpis WHERE day <= $1::date HAVING max(day) IS NOT NULL
