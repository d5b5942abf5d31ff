import type { CommandModule } from 'yargs';
import { runCli } from '../../common/src/cli.js';
import { allocCommand } from './commands/alloc.js';
import { deallocCommand } from './commands/dealloc.js';
import { printCniResultCommand, printNetnsPathCommand } from './commands/forward.js';
import { rmCommand } from './commands/rm.js';
import { statusCommand } from './commands/status.js';
import { versionCommand } from './commands/version.js';

/*
 * The host shim: what a rootless user (or podman) runs on the host. It keeps
 * one infra container per user and drives the agent inside it with one
 * `podman exec` per operation. Every command prints one JSON document on
 * stdout; failures print `Error: ...` on stderr and exit non-zero (2 for
 * usage errors).
 */

export const COMMANDS: CommandModule[] = [
  allocCommand,
  deallocCommand,
  printNetnsPathCommand,
  printCniResultCommand,
  statusCommand,
  rmCommand,
  versionCommand,
];

export async function main(argv: string[]): Promise<void> {
  await runCli(argv, {
    scriptName: 'rootless-cni',
    commands: COMMANDS,
    globalOptions: (cli) =>
      cli
        .option('podman', { type: 'string', describe: 'podman binary (env PODMAN; default "podman")' })
        .option('image', {
          type: 'string',
          describe: 'infra container image (env ROOTLESS_CNI_INFRA_IMAGE; default localhost/rootless-cni-infra:PROTOCOL-ARCH)',
        })
        .option('config-dir', {
          type: 'string',
          describe:
            'CNI network configurations, mounted read-only as /etc/cni/net.d (env ROOTLESS_CNI_CONFIG_DIR; default ~/.config/cni/net.d)',
        }),
  });
}
