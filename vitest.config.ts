import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    // The step functions log for CloudWatch; in tests their errors are asserted, not printed.
    env: { POWERTOOLS_LOG_LEVEL: 'SILENT' },
    coverage: { include: ['src/**'], provider: 'v8' },
  },
});
