import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { errorMessage, UserError } from '../../../common/src/errors.js';
import { netnsPath, type ProcessIdentity, readCmdline, readNetnsId, readStartTime } from './proc.js';

/*
 * A container's network namespace lives as long as a `sleep infinity`
 * process that holds it (started with `unshare --net`). podman joins it
 * through /proc/PID/ns/net, which works from the host because the infra
 * container shares the host's PID namespace.
 */

const HOLDER_ARGV = ['sleep', 'infinity'];
/**
 * Every holder carries this variable, naming its state directory, so that
 * `gc` can find holders whose record a crash prevented from being written,
 * and so that a PID is only ever taken for ours when its environment says so.
 */
export const HOLDER_MARKER_VARIABLE = 'ROOTLESS_CNI_INFRA_HOLDER';
const UNSHARE_TIMEOUT_MS = 5_000;

export interface Holder extends ProcessIdentity {
  netns: string;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function isHolderCmdline(cmdline: string[] | undefined): boolean {
  return cmdline !== undefined && cmdline.length === 2 && cmdline[0]!.endsWith('sleep') && cmdline[1] === 'infinity';
}

/**
 * True when `pid` is still the holder we started: same start time, still
 * `sleep infinity`, in a network namespace other than ours.
 */
export function isOurHolder(identity: ProcessIdentity, marker: string): boolean {
  const startTime = readStartTime(identity.pid);
  if (startTime === undefined || startTime !== identity.startTime) return false;
  if (!isHolderCmdline(readCmdline(identity.pid))) return false;
  if (readMarker(identity.pid) !== marker) return false;
  const ns = readNetnsId(identity.pid);
  return ns !== undefined && ns !== readNetnsId('self');
}

/**
 * Starts a holder, detached (own session, stdio on /dev/null, so podman exec
 * does not wait for it), waits until it really is in a new network namespace
 * (the original script raced here), and brings up its loopback.
 */
export async function startHolder(marker: string): Promise<Holder> {
  const ownNetns = readNetnsId('self');
  const env: NodeJS.ProcessEnv = { [HOLDER_MARKER_VARIABLE]: marker };
  if (process.env['PATH'] !== undefined) env['PATH'] = process.env['PATH'];
  const child = spawn('unshare', ['--net', '--', ...HOLDER_ARGV], { detached: true, stdio: 'ignore', env });
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err) => reject(new UserError(`cannot start the netns holder (unshare): ${err.message}`)));
  });
  await spawned;
  child.unref();
  const pid = child.pid!;
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  const deadline = Date.now() + UNSHARE_TIMEOUT_MS;
  for (let delay = 1; ; delay = Math.min(delay * 2, 20)) {
    const ns = readNetnsId(pid);
    if (isHolderCmdline(readCmdline(pid)) && ns !== undefined && ns !== ownNetns) break;
    if (exited !== undefined) {
      throw new UserError(`the netns holder (unshare --net sleep infinity) exited with code ${exited}: is CAP_SYS_ADMIN missing?`);
    }
    if (Date.now() > deadline) {
      killPid(pid);
      throw new UserError(`the netns holder ${pid} did not enter a new network namespace within ${UNSHARE_TIMEOUT_MS} ms`);
    }
    await sleep(delay);
  }
  const startTime = readStartTime(pid);
  if (startTime === undefined) throw new UserError(`the netns holder ${pid} died right after starting`);
  const holder: Holder = { pid, startTime, netns: netnsPath(pid) };
  try {
    bringUpLoopback(holder.netns);
  } catch (err) {
    killPid(pid);
    throw err;
  }
  return holder;
}

function bringUpLoopback(netns: string): void {
  const result = spawnSync('nsenter', [`--net=${netns}`, '--', 'ip', 'link', 'set', 'lo', 'up'], {
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 10_000,
  });
  if (result.error || result.status !== 0) {
    const why = result.error ? errorMessage(result.error) : result.stderr.trim() || `exit code ${result.status}`;
    throw new UserError(`cannot bring up lo in ${netns}: ${why}`);
  }
}

function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Kills the holder only if it is still ours; returns whether it was. Never kills a reused PID. */
export function stopHolder(identity: ProcessIdentity, marker: string): boolean {
  if (!isOurHolder(identity, marker)) return false;
  killPid(identity.pid);
  return true;
}

function readMarker(pid: number): string | undefined {
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

/** Live holders whose marker starts with `prefix` (a run dir), found by scanning /proc. */
export function findMarkedHolders(prefix: string): Array<ProcessIdentity & { marker: string }> {
  const found: Array<ProcessIdentity & { marker: string }> = [];
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^[0-9]+$/.test(name));
  } catch {
    return found;
  }
  for (const name of pids) {
    const pid = Number(name);
    if (!isHolderCmdline(readCmdline(pid))) continue;
    const marker = readMarker(pid);
    const startTime = readStartTime(pid);
    if (marker !== undefined && startTime !== undefined && marker.startsWith(prefix)) found.push({ pid, startTime, marker });
  }
  return found;
}
