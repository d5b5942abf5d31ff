import { readStartTime } from '../../common/src/proc.js';

/** True while `pid` runs; a zombie (killed, not yet reaped) counts as dead. */
export function isAlive(pid: number): boolean {
  return readStartTime(pid) !== undefined;
}
