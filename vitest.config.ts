import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // Native state is process-wide and a crash must stay contained.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
