import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';

/*
 * Reading /proc to tell whether a PID is still the process we started.
 * With --pid=host, the infra container sees every process of the host: a
 * recorded PID that died may since have been given to anyone else.
 */

export interface ProcessIdentity {
  pid: number;
  /** Field 22 of /proc/PID/stat: start time in clock ticks since boot. Unique per PID over time. */
  startTime: string;
}

/** The process's start time, or undefined when it is gone or a zombie. */
export function readStartTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses: parse after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  if (state === 'Z' || state === 'X' || state === 'x') return undefined;
  return fields[19];
}

export function readCmdline(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').filter((part, i, all) => part !== '' || i < all.length - 1);
  } catch {
    return undefined;
  }
}

/** The identity of a process's namespace of one kind, e.g. "net:[4026532281]". */
export function readNamespaceId(pid: number | 'self', kind: 'net' | 'user'): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/${kind}`);
  } catch {
    return undefined;
  }
}

export function readNetnsId(pid: number | 'self'): string | undefined {
  return readNamespaceId(pid, 'net');
}

export function netnsPath(pid: number): string {
  return `/proc/${pid}/ns/net`;
}

/** Every PID visible in /proc (empty when /proc cannot be read). */
export function listPids(): number[] {
  try {
    return readdirSync('/proc')
      .filter((name) => /^[0-9]+$/.test(name))
      .map(Number);
  } catch {
    return [];
  }
}

/** The user that owns a process (its real UID as the host sees it), or undefined when it is gone. */
export function readOwnerUid(pid: number): number | undefined {
  try {
    return statSync(`/proc/${pid}`).uid;
  } catch {
    return undefined;
  }
}
