-- alert_counts: alerts on weir's alert queue by outcome, over pg-boss's retention (completed
-- jobs are kept 7 days): sent, retrying (a send failed; pg-boss tries again), failed (gave
-- up), pending (not sent yet). $1 the alert queue's name
SELECT CASE state WHEN 'completed' THEN 'sent' WHEN 'retry' THEN 'retrying' WHEN 'failed' THEN 'failed' ELSE 'pending' END AS outcome,
       count(*)::int AS n
FROM pgboss.job WHERE name = $1 AND state <> 'cancelled'
GROUP BY 1
