// Entry of an isolate thread (runtime/worker/isolates.ts). Plain JavaScript so it runs
// before any TypeScript loader: threads inherit the loader hooks bin/weir.js registered,
// but a pool started elsewhere (tests, the benchmark) registers tsx and the 'weir'
// resolve hook here, then the thread's work is runtime/worker/isolate-thread.ts.
import { register } from 'node:module';
import { workerData } from 'node:worker_threads';

if (!workerData?.hooksInherited) {
  const { register: registerTsx } = await import('tsx/esm/api');
  registerTsx();
  register('../loader/resolve-hook.mjs', import.meta.url);
}
await import('./isolate-thread.ts');
