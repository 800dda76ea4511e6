-- recent_prices: the latest daily bars of one symbol inside a closed date window, newest first.
-- $1 symbol      text
-- $2 start_date  date  inclusive
-- $3 end_date    date  inclusive
-- $4 limit       int   how many rows
SELECT symbol, to_char(date, 'YYYY-MM-DD') AS date, open::float8 AS open, high::float8 AS high,
       low::float8 AS low, close::float8 AS close, volume
FROM stocks.daily_prices
WHERE symbol = $1::text
  AND date BETWEEN $2::date AND $3::date
ORDER BY date DESC
LIMIT $4::int
