/**
 * Static DAG discovery: what `weir dags list`, `dags validate` and `dags show`
 * call. Importing this module does not import ts-morph; only a cache miss does.
 */
export { discoverDags, validateDags, defaultCacheDir, type DiscoverOptions, type ValidationResult } from './discovery.ts';
export { formatDagTable, renderGraph, toDagListJson, toDagGraphJson, GRAPH_FORMATS, type GraphFormat, type TableOptions, type PausedLookup, type DagListRow } from './render.ts';
export { formatDiagnostic, DiagnosticCode } from './types.ts';
export type { DagRecord, DiscoveredTask, DiscoveredParam, DiscoveryDiagnostic, DiscoveryResult, FileReport } from './types.ts';
