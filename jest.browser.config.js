/** `npm run test:browser`: the web UI in real headless Chromium (Debian's chromium, via playwright-core). */
import base from './jest.config.js';

export default {
  ...base,
  testMatch: ['<rootDir>/tests/browser/**/*.spec.ts'],
  testTimeout: 120000,
  maxWorkers: 1,
};
