// The bree job for every scheduled DAG: a trivial tick. bree runs it in a worker
// thread, where closures and TypeScript are not available; the scheduler does
// the database work on its main thread when bree starts this job.
import { parentPort } from 'node:worker_threads';

if (parentPort) parentPort.postMessage('done');
