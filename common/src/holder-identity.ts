import { readFileSync } from 'node:fs';
import { listPids, type ProcessIdentity, readCmdline, readStartTime } from './proc.js';

/*
 * How a netns holder is recognised, by the agent (is this recorded PID still
 * ours?) and by the host shim (which holders outlived their infra container?).
 */

export const HOLDER_ARGV = ['sleep', 'infinity'];

/**
 * Every holder carries this variable: "<infra netns id>|<state dir>/<container ID>".
 * It lets `gc` find holders whose record a crash prevented from being
 * written, lets the host shim find holders whose infra container vanished,
 * and means a PID is only ever taken for ours when its environment says so.
 */
export const HOLDER_MARKER_VARIABLE = 'ROOTLESS_CNI_INFRA_HOLDER';

export function isHolderCmdline(cmdline: string[] | undefined): boolean {
  return cmdline !== undefined && cmdline.length === 2 && cmdline[0]!.endsWith('sleep') && cmdline[1] === 'infinity';
}

/** The holder marker in a process's environment (undefined when absent or unreadable: not ours). */
export function readMarker(pid: number): string | undefined {
  let environ: string;
  try {
    environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return undefined;
  }
  const prefix = `${HOLDER_MARKER_VARIABLE}=`;
  const entry = environ.split('\0').find((e) => e.startsWith(prefix));
  return entry?.slice(prefix.length);
}

export interface MarkedHolder extends ProcessIdentity {
  marker: string;
}

/** Live holders whose marker starts with `prefix`, found by scanning /proc. */
export function findMarkedHolders(prefix: string): MarkedHolder[] {
  const found: MarkedHolder[] = [];
  for (const pid of listPids()) {
    if (!isHolderCmdline(readCmdline(pid))) continue;
    const marker = readMarker(pid);
    const startTime = readStartTime(pid);
    if (marker !== undefined && startTime !== undefined && marker.startsWith(prefix)) found.push({ pid, startTime, marker });
  }
  return found;
}

/** Kills a marked holder if it is still the very process found (same start time and marker). */
export function killMarkedHolder(holder: MarkedHolder): boolean {
  if (readStartTime(holder.pid) !== holder.startTime || readMarker(holder.pid) !== holder.marker) return false;
  try {
    process.kill(holder.pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}
