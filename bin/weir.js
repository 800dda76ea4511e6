#!/usr/bin/env node
// The `weir` command. Plain JavaScript so it runs before any TypeScript loader:
// it checks the Node version, registers tsx (DAG files are TypeScript) and the
// 'weir' resolve hook, then hands over to runtime/cli/main.ts.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(`weir needs Node.js >= 22.12 (pg-boss 12 requires it); this is ${process.version}. See the README, section "Getting Node 22".\n`);
  process.exit(2);
}
const { registerWeirHooks } = await import('../runtime/loader/resolve-hook.mjs');
await registerWeirHooks();
const { main } = await import('../runtime/cli/main.ts');
process.exitCode = await main(process.argv);
