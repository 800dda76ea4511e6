-- Planner statistics after a big load (silver then reads this run's rows with a fitting plan). No parameters.
ANALYZE trips.bronze
