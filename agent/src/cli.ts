import type { CommandModule } from 'yargs';
import { runCli } from '../../common/src/cli.js';
import { trace } from '../../common/src/trace.js';
import { UserError } from '../../common/src/errors.js';
import { PROTOCOL_MISMATCH_EXIT_CODE, PROTOCOL_VERSION } from '../../common/src/version.js';
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
  trace('started');
  await runCli(argv, {
    scriptName: 'rootless-cni-infra',
    commands: COMMANDS,
    globalOptions: (cli) =>
      cli
        .option('expect-protocol', {
          type: 'string',
          describe: 'fail with exit code 3, doing nothing, unless this agent speaks this protocol version',
        })
        .middleware((args) => checkExpectedProtocol(args['expect-protocol'])),
  });
}

/**
 * The handshake that lets a caller run its command in the same exec that
 * checks the infra container's protocol version.
 */
function checkExpectedProtocol(expected: unknown): void {
  if (expected === undefined) return;
  if (String(expected) !== PROTOCOL_VERSION) {
    throw new UserError(
      `protocol mismatch: the caller speaks protocol version ${String(expected)}, this agent speaks ${PROTOCOL_VERSION}`,
      { exitCode: PROTOCOL_MISMATCH_EXIT_CODE },
    );
  }
}
