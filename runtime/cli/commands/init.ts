/** `weir init [folder]`. */
import path from 'node:path';
import type { Command } from 'commander';
import { print, type Cli } from '../options.ts';

async function initCommand(folder: string | undefined, opts: { weir?: string; json?: boolean }): Promise<void> {
  const { initProject } = await import('../../package/init.ts');
  const result = initProject(folder ?? '.', { weir: opts.weir });
  const rel = path.relative(process.cwd(), result.folder) || '.';
  print(Boolean(opts.json), result, () => [
    `created a weir project in ${result.folder} (weir from ${result.dependency}):`,
    ...result.files.map((f) => `  ${f}`),
    'next:',
    ...(rel === '.' ? [] : [`  cd ${rel}`]),
    '  npm install',
    '  npx weir dags validate',
    '  npx weir dags test example',
  ].join('\n'));
}

export function registerInitCommand(program: Command, _cli: Cli): void {
  program.command('init [folder]')
    .description('scaffold a project of your own that depends on weir (package.json, tsconfig.json, dags/example.ts, sql/, .env.example)')
    .option('--weir <spec>', 'how the project depends on weir: an npm spec, or a path to a weir checkout or tarball (default: this checkout, or the published package)')
    .option('--json', 'print JSON')
    .action((folder: string | undefined, opts: { weir?: string; json?: boolean }) => initCommand(folder, opts));
}
