// Module resolution for DAG files, registered by bin/weir.js, by each isolate thread
// and by the discovery child process:
// - weir's public specifiers (`import ... from 'weir'`, 'weir/tasks/http', …: the
//   table in package/manifest.mjs) in a DAG file anywhere on disk resolve to
//   the weir that runs it, whether or not the DAG folder installs weir;
// - a `.ts` DAG file outside any `"type": "module"` package is still loaded as an
//   ES module (DAG files use `import`/`export`, and 'weir' only resolves for ESM).
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { PUBLIC_SPECIFIERS } from '../package/manifest.mjs';

const PUBLIC_URLS = new Map(PUBLIC_SPECIFIERS.map(([specifier, file]) => [specifier, pathToFileURL(file).href]));

export async function resolve(specifier, context, nextResolve) {
  const url = PUBLIC_URLS.get(specifier);
  if (url) return { url, shortCircuit: true, format: 'module' };
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
