import type { Parameters } from 'fast-check';

/**
 * fast-check run parameters: a fixed seed by default, so that CI explores the
 * same inputs every run and a failure reproduces; FUZZ_SEED=random (or a
 * number) explores others. fast-check prints the seed of any failure.
 */
export function fuzzParameters<T>(numRuns: number, extra: Parameters<T> = {}): Parameters<T> {
  const requested = process.env['FUZZ_SEED'];
  const seed = requested === 'random' ? Date.now() : requested ? Number(requested) : 20261203;
  return { numRuns, seed, ...extra };
}
