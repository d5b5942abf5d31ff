import test from 'ava';
import { accessSync, constants } from 'node:fs';

/*
 * Tests that need root, the real CNI plugins or podman say so loudly when the
 * machine lacks them. They are skipped only outside CI (the README says how to
 * get what they need: `sudo make test` after `.ci/run`'s packages); under CI
 * (CI=true) a missing requirement fails the run instead.
 */

export const isRoot = process.getuid?.() === 0;
export const inCi = process.env['CI'] === 'true' || process.env['CI'] === '1';

export function commandExists(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Returns `test`, or `test.skip` after a loud warning when `missing` is non-empty and we are not in CI. */
export function testWhen(missing: string[], what: string): typeof test {
  if (missing.length === 0) return test;
  const message = `${what} need ${missing.join(', ')}`;
  if (inCi) {
    test(`requirements for ${what}`, (t) => {
      t.fail(`${message}; CI must never skip them (.ci/run installs them)`);
    });
    return test.skip as unknown as typeof test;
  }
  process.stderr.write(`\n*** SKIPPING ${what}: ${message}. Run .ci/run's setup and \`make test\` as root. ***\n\n`);
  return test.skip as unknown as typeof test;
}
