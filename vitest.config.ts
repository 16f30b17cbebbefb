import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Nothing is written into node_modules: npm trusts its record of the installed tree (and `npx pipeline`
  // starts fast) only while no folder there is newer than that record.
  cacheDir: '.cache/vite',
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    // The step functions log for CloudWatch; in tests their errors are asserted, not printed.
    env: { POWERTOOLS_LOG_LEVEL: 'SILENT' },
    coverage: { include: ['src/**'], provider: 'v8' },
  },
});
