import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tempDir } from './tempdirs.js';
import { join } from 'node:path';
import { CniRuntime } from '../../agent/src/cni/runtime.js';
import type { NetworkConfigList, RuntimeConf } from '../../agent/src/cni/spec.js';
import { parseConfigList } from '../../agent/src/cni/config.js';
import { fixturesDir } from './paths.js';

export interface LogEntry {
  plugin: string;
  command: string;
  env: Record<string, string>;
  stdin: Record<string, unknown>;
}

/** A sandbox with the recording fake plugin installed under several names. */
export class FakeCni {
  readonly root = tempDir('rci-fake-');
  readonly pluginDir = join(this.root, 'bin');
  readonly cacheDir = join(this.root, 'cache');
  readonly confDir = join(this.root, 'net.d');
  readonly logPath = join(this.root, 'log.jsonl');

  constructor(names = ['fake-a', 'fake-b', 'fake-c', 'fake-v04']) {
    mkdirSync(this.pluginDir);
    mkdirSync(this.confDir);
    writeFileSync(this.logPath, '');
    for (const name of names) symlinkSync(join(fixturesDir, 'fake-plugin.mjs'), join(this.pluginDir, name));
  }

  runtime(timeoutMs = 20_000, maxOutputBytes = 1024 * 1024): CniRuntime {
    return new CniRuntime({
      pluginPath: [join(this.root, 'empty'), this.pluginDir],
      cacheDir: this.cacheDir,
      limits: { timeoutMs, maxOutputBytes },
    });
  }

  /** A list whose plugins all log here; `fake` options per plugin index. */
  list(version: string, plugins: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}): NetworkConfigList {
    const doc = {
      cniVersion: version,
      name: 'testnet',
      ...extra,
      plugins: plugins.map((p) => ({ ...p, fake: { log: this.logPath, ...((p['fake'] as object) ?? {}) } })),
    };
    return parseConfigList(doc, 'test');
  }

  log(): LogEntry[] {
    return readFileSync(this.logPath, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as LogEntry);
  }

  clearLog(): void {
    writeFileSync(this.logPath, '');
  }
}

export function runtimeConf(overrides: Partial<RuntimeConf> = {}): RuntimeConf {
  return {
    containerId: 'c0ffee',
    netns: '/proc/1/ns/net',
    ifName: 'eth0',
    args: [
      ['IgnoreUnknown', '1'],
      ['K8S_POD_NAME', 'pod1'],
    ],
    capabilityArgs: {},
    ...overrides,
  };
}
