import { spawn } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { UserError } from './errors.js';

/**
 * File locks with flock(2) semantics, so that a crashed owner can never leave
 * a lock stuck: the kernel drops it when the last descriptor closes.
 *
 * Node has no flock binding, so util-linux `flock(1)` takes the lock on a
 * descriptor we pass it as fd 3. A flock lock belongs to the open file
 * description, which we share with the child: the lock stays held by us after
 * the child exits, until we close our descriptor (or die).
 */
export interface FileLock {
  readonly path: string;
  release(): void;
}

export interface LockOptions {
  shared?: boolean;
  /** Give up after this long. */
  timeoutMs: number;
  /** Named in the timeout error. */
  what: string;
}

export async function acquireFileLock(path: string, options: LockOptions): Promise<FileLock> {
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
  // libuv opens with O_CLOEXEC: processes we spawn later never inherit the lock.
  try {
    const timeoutSeconds = Math.max(options.timeoutMs / 1000, 0.001).toFixed(3);
    const args = [options.shared ? '--shared' : '--exclusive', '--timeout', timeoutSeconds, '3'];
    const { code, stderr } = await runFlock(args, fd);
    if (code === 1) {
      throw new UserError(
        `timed out after ${options.timeoutMs} ms waiting for the lock on ${options.what} (${path})`,
      );
    }
    if (code !== 0) {
      throw new UserError(`cannot lock ${path} with flock(1): ${stderr.trim() || `exit code ${code}`}`);
    }
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      closeSync(fd);
    },
  };
}

function runFlock(args: string[], fd: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('flock', args, { stdio: ['ignore', 'ignore', 'pipe', fd] });
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      if (stderr.length < 4096) stderr += chunk;
    });
    child.on('error', (err) => {
      reject(new UserError(`cannot run flock(1) (util-linux) to take a lock: ${err.message}`));
    });
    child.on('close', (code) => resolve({ code, stderr }));
  });
}
