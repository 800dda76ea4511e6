// Module resolve hook: `import ... from 'weir'` in a DAG file anywhere on disk
// resolves to this checkout's public API (runtime/index.ts), without the DAG
// folder having to install weir. Registered by bin/weir.js with module.register.
const WEIR_ENTRY = new URL('../index.ts', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'weir') return { url: WEIR_ENTRY, shortCircuit: true, format: 'module' };
  return nextResolve(specifier, context);
}
