-- File-arrival triggers: a run made for a file that landed in a DAG's folder (run_type
-- 'file'). Its run_id is derived from the file's path, size and modification time, so it
-- is created once however many schedulers see the file, and again only for new content.
ALTER TABLE weir.dag_run DROP CONSTRAINT dag_run_run_type_check;
ALTER TABLE weir.dag_run ADD CONSTRAINT dag_run_run_type_check CHECK (run_type IN ('manual', 'scheduled', 'backfill', 'test', 'file'));
