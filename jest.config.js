/** Jest in ESM mode; @swc/jest strips types (tsc --noEmit type-checks separately). */
import { PUBLIC_SPECIFIERS } from './runtime/package/manifest.mjs';

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2023' }, module: { type: 'es6' } }],
  },
  // weir's public specifiers ('weir', 'weir/tasks/http', …) mean this checkout's files, as at runtime.
  moduleNameMapper: Object.fromEntries(PUBLIC_SPECIFIERS.map(([specifier, file]) => [`^${escape(specifier)}$`, file])),
  testMatch: ['<rootDir>/tests/**/*.test.ts'],
  setupFiles: ['<rootDir>/tests/setup-env.ts'],
  globalSetup: '<rootDir>/tests/global-setup.ts',
  globalTeardown: '<rootDir>/tests/global-teardown.ts',
  testTimeout: 60000,
  maxWorkers: 2,
};
