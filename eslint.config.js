'use strict'
// JS lint: neostandard (standard's rules for ESLint 9 flat config). `npm run lint` checks,
// `npx eslint . --fix` fixes what it can. The code base keeps trailing commas in multi-line
// literals, so that rule follows the code instead of standard.
const neostandard = require('neostandard')

module.exports = [
  ...neostandard({
    ignores: ['target/**', 'node_modules/**', 'packs/**', 'binding.js', 'binding.d.ts', 'npm/**', 'bench/results/**'],
    ts: true,
  }),
  {
    rules: {
      '@stylistic/comma-dangle': ['error', 'always-multiline'],
      // Flags changed by callbacks and other async functions (`while (running) await ...`) are
      // what this rule cannot see; every hit in this code base is one of those.
      'no-unmodified-loop-condition': 'off',
      // `for await (const chunk of body) void chunk` drains a stream on purpose.
      'no-void': ['error', { allowAsStatement: true }],
    },
  },
  {
    files: ['__test__/**'],
    // Bad-input tests hand the API wrapper objects (new String(...)) on purpose.
    rules: { 'no-new-wrappers': 'off' },
  },
]
