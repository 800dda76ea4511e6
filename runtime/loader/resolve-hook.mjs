// Module resolution for DAG files, registered by bin/weir.js, by each isolate thread
// and by the discovery child process:
// - `import ... from 'weir'` in a DAG file anywhere on disk resolves to this
//   checkout's public API (runtime/index.ts), without the DAG folder installing weir;
// - a `.ts` DAG file outside any `"type": "module"` package is still loaded as an
//   ES module (DAG files use `import`/`export`, and 'weir' only resolves for ESM).
import { register } from 'node:module';

const WEIR_ENTRY = new URL('../index.ts', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'weir') return { url: WEIR_ENTRY, shortCircuit: true, format: 'module' };
  const resolved = await nextResolve(specifier, context);
  if (resolved.url.startsWith('file:') && /\.m?ts$/.test(resolved.url) && !resolved.url.includes('/node_modules/')) {
    return { ...resolved, format: 'module' };
  }
  return resolved;
}

/**
 * Register tsx and this resolve hook (with module.register) in the calling thread.
 * Measured on Node 22.23: the synchronous module.registerHooks would load modules
 * faster (zod in a fresh thread: ~107 ms against ~170 ms), but tsx then loads a
 * `.ts` file outside a `"type": "module"` package as CommonJS, where 'weir' does
 * not resolve; so the asynchronous form it is.
 */
export async function registerWeirHooks() {
  const { register: registerTsx } = await import('tsx/esm/api');
  registerTsx();
  register(import.meta.url, import.meta.url);
}
