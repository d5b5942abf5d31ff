import type { Allocator } from '../allocator.js';

/** The allocator, loaded on first use so that light commands do not pay for the CNI runtime. */
export async function loadAllocator(): Promise<Allocator> {
  const [{ Allocator }, { agentConfigFromEnv }] = await Promise.all([import('../allocator.js'), import('../config.js')]);
  return new Allocator(agentConfigFromEnv());
}

/** yargs gives positionals as string | undefined (numbers are not parsed, see cli.ts). */
export function str(value: unknown): string | undefined {
  return value === undefined ? undefined : String(value);
}
