-- The batch id of a run's file (the same on every try of the run). $1 run_id, $2 source_file
INSERT INTO trips.batches (run_id, source_file) VALUES ($1, $2)
ON CONFLICT (run_id) DO UPDATE SET source_file = EXCLUDED.source_file
RETURNING batch_id
