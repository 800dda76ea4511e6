// Module resolve hook, registered by bin/weir.js with module.register:
// - `import ... from 'weir'` in a DAG file anywhere on disk resolves to this
//   checkout's public API (runtime/index.ts), without the DAG folder installing weir;
// - a `.ts` DAG file outside any `"type": "module"` package is still loaded as an
//   ES module (DAG files use `import`/`export`, and 'weir' only resolves for ESM).
const WEIR_ENTRY = new URL('../index.ts', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'weir') return { url: WEIR_ENTRY, shortCircuit: true, format: 'module' };
  const resolved = await nextResolve(specifier, context);
  if (resolved.url.startsWith('file:') && /\.m?ts$/.test(resolved.url) && !resolved.url.includes('/node_modules/')) {
    return { ...resolved, format: 'module' };
  }
  return resolved;
}
