import type { Allocator } from '../allocator.js';

/** The allocator, loaded on first use so that light commands do not pay for the CNI runtime. */
export async function loadAllocator(): Promise<Allocator> {
  const [{ Allocator }, { agentConfigFromEnv }] = await Promise.all([import('../allocator.js'), import('../config.js')]);
  return new Allocator(agentConfigFromEnv());
}

export { str } from '../../../common/src/cli.js';
