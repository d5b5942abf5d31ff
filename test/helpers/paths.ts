import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** Compiled tests live in build/test/...; the project root is three levels up from here. */
export const projectRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const agentExecutable = join(projectRoot, 'dist', 'rootless-cni-infra');
export const hostShim = join(projectRoot, 'dist', 'rootless-cni');
export const fixturesDir = join(projectRoot, 'test', 'fixtures');
