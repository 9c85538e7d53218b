import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // The suites import the built package by its name, as a consumer does (tests/tsconfig.json maps its types the same way).
    alias: [{ find: /^@ouroboros-engine\/core$/, replacement: fileURLToPath(new URL('./dist/ts/index.js', import.meta.url)) }],
  },
  test: {
    include: ['tests/**/*.test.ts'],
    // Live speed decisions: `npm run test:slow` (vitest.slow.config.ts).
    exclude: [...configDefaults.exclude, 'tests/slow/**'],
    // Native state is process-wide and a crash must stay contained.
    pool: 'forks',
    // Every suite's temporary files live in one directory of the run, removed at its end.
    globalSetup: ['tests/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
