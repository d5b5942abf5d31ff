import { spawn, spawnSync } from 'node:child_process';
import { errorMessage, UserError } from '../../../common/src/errors.js';
import { HOLDER_ARGV, HOLDER_MARKER_VARIABLE, isHolderCmdline, readMarker } from '../../../common/src/holder-identity.js';
import { netnsPath, type ProcessIdentity, readCmdline, readNetnsId, readStartTime } from '../../../common/src/proc.js';

/*
 * A container's network namespace lives as long as a `sleep infinity`
 * process that holds it (started with `unshare --net`). podman joins it
 * through /proc/PID/ns/net, which works from the host because the infra
 * container shares the host's PID namespace.
 */

const UNSHARE_TIMEOUT_MS = 5_000;

export interface Holder extends ProcessIdentity {
  netns: string;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
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
