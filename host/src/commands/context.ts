import type { Arguments } from 'yargs';
import { UsageError } from '../../../common/src/errors.js';
import { hostConfig } from '../config.js';
import { Infra } from '../infra.js';

export { isObject } from '../infra.js';

/** The infra container handle for a command, from its global flags and the environment. */
export function infraFor(argv: Arguments): Infra {
  return new Infra(
    hostConfig({
      podman: str(argv['podman']),
      image: str(argv['image']),
      configDir: str(argv['config-dir']),
    }),
  );
}

/** yargs gives strings (numbers are not parsed, see cli.ts); a repeated single-value flag is an error. */
export function str(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) throw new UsageError(`an option was given more than once: ${value.map(String).join(', ')}`);
  return String(value);
}

/** A repeatable flag: undefined, one value or several. */
export function list(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}
