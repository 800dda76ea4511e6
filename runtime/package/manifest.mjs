// weir's package manifest, read once: its root folder, its version, and its public
// import specifiers from one table, the "exports" map of weir's package.json. Everything that must know what `weir` or `weir/tasks/http`
// means reads it here: the runtime resolve hook, static discovery's type-checker
// and jest (tsconfig needs nothing: TypeScript resolves the package's own name
// through the same exports map). Plain JavaScript because the resolve hook loads
// before any TypeScript loader.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder weir is installed in (this checkout, or node_modules/weir). */
export const WEIR_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const manifest = JSON.parse(fs.readFileSync(path.join(WEIR_ROOT, 'package.json'), 'utf8'));

/** The package's own name: the bare specifier DAG files import. */
export const PACKAGE_NAME = manifest.name;

/** weir's version, as `weir --version` prints it. */
export const WEIR_VERSION = manifest.version;

/**
 * Each public specifier with the absolute path of the file it means,
 * e.g. ['weir/tasks/http', '/…/weir/tasks/http.ts'].
 * @type {ReadonlyArray<readonly [string, string]>}
 */
export const PUBLIC_SPECIFIERS = Object.entries(manifest.exports).map(([subpath, target]) => {
  if (typeof target !== 'string' || subpath.includes('*')) {
    throw new Error(`package.json exports: ${subpath} must map to one file (no conditions or patterns)`);
  }
  const specifier = subpath === '.' ? manifest.name : `${manifest.name}/${subpath.replace(/^\.\//, '')}`;
  return [specifier, path.join(WEIR_ROOT, target)];
});
