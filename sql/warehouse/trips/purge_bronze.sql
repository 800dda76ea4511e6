-- What an earlier try of this run left in bronze (a try's rows commit whole, but a cleared
-- run loads again). $1 batch_id, $2 run_id
WITH r AS (DELETE FROM trips.bronze_rejects WHERE run_id = $2)
DELETE FROM trips.bronze WHERE batch_id = $1
