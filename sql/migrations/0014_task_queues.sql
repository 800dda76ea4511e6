-- 0014_task_queues: task queues (a task's `queue`, `weir worker --queues`). The pg-boss
-- queue a queued try went to, so that a run says which queue no live worker works; the
-- worker registry's `queue` lists the pg-boss queues a worker works, comma-separated.
ALTER TABLE weir.task_instance ADD COLUMN queued_on text;
