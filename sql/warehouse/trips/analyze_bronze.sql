-- Planner statistics after a big load (silver then reads the batch with a fitting plan). No parameters.
ANALYZE trips.bronze
