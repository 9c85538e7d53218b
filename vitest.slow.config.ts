import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests that decide from a live measurement on this machine: run by `npm run test:slow`, never gating CI.
export default defineConfig({
  resolve: {
    alias: [{ find: /^@ouroboros-engine\/core$/, replacement: fileURLToPath(new URL('./dist/ts/index.js', import.meta.url)) }],
  },
  test: {
    include: ['tests/slow/**/*.test.ts'],
    pool: 'forks',
    // Every suite's temporary files live in one directory of the run, removed at its end.
    globalSetup: ['tests/global-setup.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
