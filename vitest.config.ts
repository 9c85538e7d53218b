import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // The suites import the built package as 'ouroboros' (its name before it
    // became @ouroboros-engine/core); tests/tsconfig.json maps it the same way.
    alias: [{ find: /^ouroboros$/, replacement: fileURLToPath(new URL('./dist/ts/index.js', import.meta.url)) }],
  },
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
