import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { isAlive } from './processes.js';
import { type RunResult, run } from './run.js';

/*
 * Running things as the unprivileged user of the rootless podman end-to-end
 * tests (prepared by scripts/e2e-user.sh), with a clean, login-like
 * environment, as the scripts do: no root variables leak in, and
 * XDG_RUNTIME_DIR is the directory e2e-user.sh created (no logind here).
 */

export const USER_PATH = '/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin';

export interface E2eUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  runtimeDir: string;
}

/** The user's passwd entry, or undefined when there is no such user. */
export function lookupUser(name: string): E2eUser | undefined {
  const result = spawnSync('getent', ['passwd', name], { encoding: 'utf8' });
  if (result.status !== 0) return undefined;
  const fields = result.stdout.trim().split(':');
  const uid = Number(fields[2]);
  return { name, uid, gid: Number(fields[3]), home: fields[5]!, runtimeDir: `/run/user/${uid}` };
}

export function userEnv(user: E2eUser, extra: Record<string, string> = {}): string[] {
  const env: Record<string, string> = {
    HOME: user.home,
    USER: user.name,
    LOGNAME: user.name,
    PATH: USER_PATH,
    XDG_RUNTIME_DIR: user.runtimeDir,
    ...extra,
  };
  return Object.entries(env).map(([k, v]) => `${k}=${v}`);
}

/** Runs argv as the user, from /, with only the variables of userEnv. */
export function asUser(
  user: E2eUser,
  argv: string[],
  options: { input?: string; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<RunResult> {
  return run('runuser', ['-u', user.name, '--', 'env', '-i', '-C', '/', ...userEnv(user, options.env), ...argv], {
    input: options.input ?? '',
    timeoutMs: options.timeoutMs ?? 120_000,
  });
}

/** Rootless podman as the user; throws with podman's stderr when it fails. */
export async function userPodman(user: E2eUser, args: string[], timeoutMs = 120_000): Promise<string> {
  const result = await asUser(user, ['podman', ...args], { timeoutMs });
  if (result.code !== 0) {
    throw new Error(`podman ${args.join(' ')} (as ${user.name}) failed with exit code ${result.code}: ${withoutWarnings(result.stderr)}`);
  }
  return result.stdout;
}

/** Rootless podman prints a "/ is not a shared mount" warning on every command. */
export function withoutWarnings(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => l !== '' && !/^time="[^"]*" level=warning/.test(l))
    .join('\n');
}

export interface ProcessInfo {
  pid: number;
  uid: number;
  argv: string[];
  environ: string[];
}

/** Live (non-zombie) processes of a UID, with argv and environment (we run as root). */
export function processesOf(uid: number): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    const pid = Number(name);
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const uidLine = /^Uid:\s+(\d+)/m.exec(status);
      if (!uidLine || Number(uidLine[1]) !== uid || !isAlive(pid)) continue;
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
      let environ: string[] = [];
      try {
        environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      } catch {
        // unreadable: keep the argv
      }
      found.push({ pid, uid, argv, environ });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns an empty list or `timeoutMs` passes; returns the last list. */
export async function waitUntilNone<T>(check: () => T[], timeoutMs: number): Promise<T[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = check();
    if (left.length === 0 || Date.now() > deadline) return left;
    await sleep(100);
  }
}
