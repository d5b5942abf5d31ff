import type { CommandModule } from 'yargs';
import { runCli } from '../../common/src/cli.js';
import { allocCommand } from './commands/alloc.js';
import { checkCommand } from './commands/check.js';
import { deallocCommand } from './commands/dealloc.js';
import { deallocAllCommand } from './commands/dealloc-all.js';
import { gcCommand } from './commands/gc.js';
import { isIdleCommand } from './commands/is-idle.js';
import { listCommand } from './commands/list.js';
import { printCniResultCommand } from './commands/print-cni-result.js';
import { printNetnsPathCommand } from './commands/print-netns-path.js';
import { versionCommand } from './commands/version.js';

export const COMMANDS: CommandModule[] = [
  allocCommand,
  deallocCommand,
  isIdleCommand,
  printCniResultCommand,
  printNetnsPathCommand,
  checkCommand,
  gcCommand,
  listCommand,
  deallocAllCommand,
  versionCommand,
];

/*
 * The agent's CLI. Every command prints one JSON document on stdout; failures
 * print `Error: ...` on stderr and exit non-zero (2 for usage errors).
 * Command modules are thin and load their implementation lazily, so that a
 * `version` or `is-idle` does not pay for the CNI runtime.
 */
export async function main(argv: string[]): Promise<void> {
  await runCli(argv, { scriptName: 'rootless-cni-infra', commands: COMMANDS });
}
