import { UsageError } from './errors.js';

/** A duration in seconds (> 0) from the environment, in milliseconds; `fallbackMs` when unset or empty. */
export function secondsFromEnv(env: NodeJS.ProcessEnv, name: string, fallbackMs: number): number {
  const value = env[name];
  if (value === undefined || value === '') return fallbackMs;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) {
    throw new UsageError(`invalid ${name} ${JSON.stringify(value)}: expected seconds > 0`);
  }
  return Math.round(parsed * 1000);
}
