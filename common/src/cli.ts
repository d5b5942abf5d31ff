import { errorMessage, UserError } from './errors.js';
import { printError } from './output.js';

/**
 * The one place where a command's failure becomes `Error: ...` on stderr and
 * a non-zero exit code. Set ROOTLESS_CNI_INFRA_DEBUG=1 to also get the stack.
 */
export async function runCommand(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (err) {
    reportFatal(err);
  }
}

export function reportFatal(err: unknown): never {
  printError(errorMessage(err));
  if (process.env['ROOTLESS_CNI_INFRA_DEBUG'] === '1' && err instanceof Error && err.stack) {
    process.stderr.write(`${err.stack}\n`);
  }
  process.exit(err instanceof UserError ? err.exitCode : 1);
}
