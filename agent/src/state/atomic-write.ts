import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { errorMessage, UserError } from '../../../common/src/errors.js';

/**
 * Writes a file so that readers see either the old content or the new, never
 * a torn one: a temporary file in the same folder, then rename(2). A failed
 * write (ENOSPC, say) leaves nothing behind. There is no fsync: this state
 * describes live processes and network namespaces, which a reboot ends anyway.
 */
export function writeFileAtomic(path: string, data: string, mode = 0o600): void {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(temp, data, { mode, flag: 'wx' });
    renameSync(temp, path);
  } catch (err) {
    rmSync(temp, { force: true });
    throw new UserError(`cannot write ${path}: ${errorMessage(err)}`, { cause: err });
  }
}

/** Temporary files of writers that died between write and rename. */
export function isAtomicTempFile(name: string): boolean {
  return name.startsWith('.') && name.endsWith('.tmp');
}
