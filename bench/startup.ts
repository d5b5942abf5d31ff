import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatRow, timeCommand } from './lib.js';

// Agent startup: `rootless-cni-infra version` against bare `node -e 0` of the
// same Node version (the one pkg embeds), medians of 30 runs each.
const root = fileURLToPath(new URL('../../', import.meta.url));
const require = createRequire(import.meta.url);
const node = require.resolve(`node-linux-${process.arch}/bin/node`);
const agent = join(root, 'dist', 'rootless-cni-infra');

const baseline = timeCommand(node, ['-e', '0']);
const agentTime = timeCommand(agent, ['version']);
console.log(formatRow('agent: rootless-cni-infra version', agentTime, 'node -e 0 (same Node)', baseline));
