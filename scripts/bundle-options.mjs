// The esbuild options of the agent's and the shim's bundles, shared by
// scripts/build.mjs and bench/startup.ts (whose probes must be bundled alike).
import { join } from 'node:path';

// yargs' ESM build reads import.meta.url; a CJS bundle has none, so compute it.
const IMPORT_META_BANNER = 'const __importMetaUrl = require("url").pathToFileURL(__filename).href;';

/** Options for one CommonJS bundle for Node; `banner` is put before the import.meta shim. */
export function bundleOptions(root, banner) {
  return {
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    minify: true,
    legalComments: 'none',
    // yargs takes two functions from node:assert, which costs ~9 ms to load.
    alias: { assert: join(root, 'scripts', 'shims', 'assert.cjs') },
    define: {
      'import.meta.url': '__importMetaUrl',
      // yargs reads process.stdout.columns when it loads, which builds the
      // stdout stream (~5 ms); our output goes through fs.writeSync, and help
      // is not wrapped.
      'process.stdout.columns': 'undefined',
    },
    banner: { js: [banner, IMPORT_META_BANNER].filter(Boolean).join('\n') },
    logLevel: 'warning',
  };
}
