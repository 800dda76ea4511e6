// Entry of an isolate thread (runtime/worker/isolates.ts). Plain JavaScript so it runs
// before any TypeScript loader: it registers tsx and the 'weir' resolve hook in this
// thread, then the thread's work is runtime/worker/isolate-thread.ts. Registered here
// every time: on Node 22.23 a thread half-inherits the hooks of a process that
// registered them (measured: .ts files of the DAG then fail to parse), and a
// registration of the thread's own works in every case.
import { registerWeirHooks } from '../loader/resolve-hook.mjs';

await registerWeirHooks();
await import('./isolate-thread.ts');
