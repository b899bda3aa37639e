// Lint: ESLint's and typescript-eslint's recommended rules over src/ (types come
// from tsc, which runs with strict flags; formatting is left to the author).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'build/', 'bench-results/'] },
  { files: ['src/**/*.ts'], extends: [js.configs.recommended, ...tseslint.configs.recommended] },
  {
    files: ['src/**/*.ts'],
    rules: {
      // Unused names are tsc's job (noUnusedLocals / noUnusedParameters).
      '@typescript-eslint/no-unused-vars': 'off',
    },
  },
);
