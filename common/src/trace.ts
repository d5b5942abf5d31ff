/**
 * Timestamps of an operation's steps on stderr, for a person asking where
 * the time goes: ROOTLESS_CNI_INFRA_TRACE=1. Times are from process start.
 */
const enabled = process.env['ROOTLESS_CNI_INFRA_TRACE'] === '1';

export function trace(step: string): void {
  if (!enabled) return;
  const ms = performance.now();
  process.stderr.write(`[trace ${ms.toFixed(1).padStart(7)} ms] ${step}\n`);
}
