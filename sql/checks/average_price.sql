-- average_price: mean of (high + low) / 2 for one symbol over a closed date window.
-- $1 symbol      text  ticker, e.g. AMZN
-- $2 start_date  date  first day, inclusive
-- $3 end_date    date  last day, inclusive
-- Returns one row: value numeric (NULL when the window holds no rows), rows bigint.
SELECT avg((high + low) / 2) AS value, count(*) AS rows
FROM stocks.daily_prices
WHERE symbol = $1::text
  AND date BETWEEN $2::date AND $3::date
