// ESLint for the TypeScript sources, the tests and the Node scripts (`npm run lint`).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // Generated protobuf code and build output are not ours to lint.
  { ignores: ['dist/**', 'build/**', 'target/**', 'ts/generated/**', 'node_modules/**', 'npm/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // Unused names are an error, except a deliberately ignored `_` binding.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  // The dashboard's page script runs in the browser, with uPlot loaded beside it.
  { files: ['ts/ui/assets/**/*.js'], languageOptions: { globals: { ...globals.browser, uPlot: 'readonly' } } },
);
