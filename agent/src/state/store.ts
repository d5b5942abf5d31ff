import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { errnoCode, errorMessage, UserError } from '../../../common/src/errors.js';
import { validateContainerId, validateNetworkName } from '../../../common/src/validate.js';
import type { CniResult } from '../cni/spec.js';
import type { ProcessIdentity } from '../../../common/src/proc.js';
import { isAtomicTempFile, writeFileAtomic } from './atomic-write.js';

/*
 * The agent's state, in the layout the original script documented:
 *   <run dir>/<CONTAINER_ID>/pid                    PID of the netns holder
 *   <run dir>/<CONTAINER_ID>/attached/<NETWORK>      CNI result
 *   <run dir>/<CONTAINER_ID>/attached-args/<NETWORK> CNI_ARGS
 * plus our own:
 *   <run dir>/<CONTAINER_ID>/holder                  {"pid","startTime"}: verifies the PID
 *   <run dir>/<CONTAINER_ID>/attached-meta/<NETWORK> interface, CNI args, capability args,
 *                                                    config dir: written BEFORE the ADD, so
 *                                                    an attachment interrupted by a crash
 *                                                    is found and undone by `gc`
 *   <run dir>/.locks/                                flock files
 * Every file is written atomically. An attachment is live once its
 * `attached/<NETWORK>` file exists (written last).
 */

export const DEFAULT_RUN_DIR = '/run/rootless-cni-infra';

export interface AttachmentMeta {
  ifName: string;
  cniArgs: Array<[string, string]>;
  capabilityArgs: Record<string, unknown>;
  /** Config dir and plugin path used at alloc (the stdin form may override the defaults). */
  netConfPath: string;
  pluginPath: string[];
}

export interface Attachment {
  network: string;
  meta: AttachmentMeta | undefined;
  /** undefined while the ADD has not completed (or was interrupted). */
  result: CniResult | undefined;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return undefined;
    throw new UserError(`cannot read ${path}: ${errorMessage(err)}`);
  }
}

function readJson<T>(path: string): T | undefined {
  const text = readText(path);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined; // torn files cannot happen (atomic writes); anything else is treated as absent
  }
}

function listDir(path: string): string[] {
  try {
    return readdirSync(path).filter((name) => !isAtomicTempFile(name));
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return [];
    throw new UserError(`cannot read ${path}: ${errorMessage(err)}`);
  }
}

export class StateStore {
  constructor(readonly runDir: string) {}

  init(): void {
    try {
      mkdirSync(join(this.runDir, '.locks'), { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new UserError(`cannot create the state directory ${this.runDir}: ${errorMessage(err)}`);
    }
  }

  containerDir(id: string): string {
    return join(this.runDir, validateContainerId(id));
  }

  lockPath(name: string): string {
    return join(this.runDir, '.locks', `${name}.lock`);
  }

  /** Container IDs with a state directory. */
  listContainers(): string[] {
    return listDir(this.runDir).filter((name) => {
      try {
        validateContainerId(name);
        return true;
      } catch {
        return false; // .locks and anything that is not ours
      }
    });
  }

  /** Lock files of containers that have no state directory any more. */
  listOrphanLockFiles(): string[] {
    const live = new Set(this.listContainers());
    return listDir(join(this.runDir, '.locks'))
      .filter((name) => name.endsWith('.lock') && name !== 'global.lock' && !live.has(name.slice(0, -5)))
      .map((name) => join(this.runDir, '.locks', name));
  }

  hasContainer(id: string): boolean {
    return listDir(this.containerDir(id)).length > 0;
  }

  readHolder(id: string): ProcessIdentity | undefined {
    const record = readJson<{ pid?: unknown; startTime?: unknown }>(join(this.containerDir(id), 'holder'));
    if (!record || !Number.isInteger(record.pid) || typeof record.startTime !== 'string') return undefined;
    return { pid: record.pid as number, startTime: record.startTime };
  }

  writeHolder(id: string, holder: ProcessIdentity): void {
    const dir = this.containerDir(id);
    writeFileAtomic(join(dir, 'holder'), JSON.stringify({ pid: holder.pid, startTime: holder.startTime }));
    writeFileAtomic(join(dir, 'pid'), `${holder.pid}\n`);
  }

  readAttachment(id: string, network: string): Attachment | undefined {
    validateNetworkName(network);
    const dir = this.containerDir(id);
    const meta = readJson<AttachmentMeta>(join(dir, 'attached-meta', network));
    const result = readJson<CniResult>(join(dir, 'attached', network));
    if (!meta && !result) return undefined;
    return { network, meta, result };
  }

  /** Every attachment, complete or interrupted, by network name. */
  listAttachments(id: string): Attachment[] {
    const dir = this.containerDir(id);
    const names = new Set([...listDir(join(dir, 'attached')), ...listDir(join(dir, 'attached-meta'))]);
    const attachments: Attachment[] = [];
    for (const network of [...names].sort()) {
      try {
        validateNetworkName(network);
      } catch {
        continue;
      }
      const attachment = this.readAttachment(id, network);
      if (attachment) attachments.push(attachment);
    }
    return attachments;
  }

  /** Step 1 of an attach: the intent, before any plugin runs. */
  writeAttachmentMeta(id: string, network: string, meta: AttachmentMeta): void {
    writeFileAtomic(join(this.containerDir(id), 'attached-meta', validateNetworkName(network)), JSON.stringify(meta));
  }

  /** Step 2: the CNI args, then the result, which makes the attachment live. */
  commitAttachment(id: string, network: string, cniArgs: string, result: CniResult): void {
    const dir = this.containerDir(id);
    writeFileAtomic(join(dir, 'attached-args', validateNetworkName(network)), cniArgs);
    writeFileAtomic(join(dir, 'attached', network), JSON.stringify(result));
  }

  /** The attachment is no longer live (its DEL is starting); its metadata stays. */
  unmarkLive(id: string, network: string): void {
    rmSync(join(this.containerDir(id), 'attached', validateNetworkName(network)), { force: true });
  }

  /** Live again (its DEL failed and can be retried). */
  markLive(id: string, network: string, result: CniResult): void {
    writeFileAtomic(join(this.containerDir(id), 'attached', validateNetworkName(network)), JSON.stringify(result));
  }

  /** Removes an attachment: the result first, so that it stops being live before its metadata goes. */
  removeAttachment(id: string, network: string): void {
    const dir = this.containerDir(id);
    validateNetworkName(network);
    for (const sub of ['attached', 'attached-args', 'attached-meta']) rmSync(join(dir, sub, network), { force: true });
  }

  removeContainer(id: string): void {
    rmSync(this.containerDir(id), { recursive: true, force: true });
  }
}
