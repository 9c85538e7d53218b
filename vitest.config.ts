import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // Live speed decisions: `npm run test:slow` (vitest.slow.config.ts).
    exclude: [...configDefaults.exclude, 'tests/slow/**'],
    // Native state is process-wide and a crash must stay contained.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
