import type { Arguments } from 'yargs';
import { str } from '../../../common/src/cli.js';
import { hostConfig } from '../config.js';
import { Infra } from '../infra.js';

export { isObject } from '../../../common/src/json.js';
export { str };

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

/** A repeatable flag: undefined, one value or several. */
export function list(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}
