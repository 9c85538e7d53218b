import { defineConfig } from 'vitest/config';

// Tests that decide from a live measurement on this machine: run by `npm run test:slow`, never gating CI.
export default defineConfig({
  test: {
    include: ['tests/slow/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
