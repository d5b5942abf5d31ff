import { existsSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { secondsFromEnv } from '../../common/src/env.js';
import { UsageError } from '../../common/src/errors.js';
import { PROTOCOL_VERSION } from '../../common/src/version.js';

/*
 * The shim's settings: command-line flags first, then environment variables,
 * then defaults. Read once per command, before anything runs.
 *
 *   --podman      PODMAN                      podman binary ("podman", found on PATH)
 *   --image       ROOTLESS_CNI_INFRA_IMAGE    infra image (see defaultImage)
 *   --config-dir  ROOTLESS_CNI_CONFIG_DIR     CNI config dir mounted as /etc/cni/net.d
 *                 ROOTLESS_CNI_LOCK_TIMEOUT   seconds to wait for another rootless-cni (300)
 *                 ROOTLESS_CNI_PODMAN_TIMEOUT seconds one podman command may take (300)
 */

export interface HostConfig {
  podman: string;
  image: string;
  configDir: string;
  /** Serializes the commands that may create or remove the infra container. */
  lockPath: string;
  lockTimeoutMs: number;
  podmanTimeoutMs: number;
}

export interface HostFlags {
  podman?: string | undefined;
  image?: string | undefined;
  configDir?: string | undefined;
}

const DEFAULT_TIMEOUT_MS = 300_000;
const LOCK_FILE = 'rootless-cni-infra.lock';

/**
 * The image tag scripts/build-image.sh gives the image of *this* protocol
 * version (it also tags :latest). Pinning the protocol in the tag means the
 * protocol label we put on the container at creation always tells the truth,
 * even after :latest moved on to a newer protocol.
 */
export function defaultImage(arch: string = process.arch): string {
  const imageArch = ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' } as Record<string, string>)[arch] ?? arch;
  return `localhost/rootless-cni-infra:${PROTOCOL_VERSION}-${imageArch}`;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/**
 * Where the lock lives: $XDG_RUNTIME_DIR, else /run/user/UID when it exists
 * (podman uses it even without the variable), else the temporary directory,
 * where the name carries the UID so that users never share (or block on)
 * each other's lock file.
 */
export function lockPathFor(env: NodeJS.ProcessEnv, uid: number = process.getuid?.() ?? 0): string {
  const runtimeDir = nonEmpty(env['XDG_RUNTIME_DIR']);
  if (runtimeDir !== undefined && isAbsolute(runtimeDir)) return join(runtimeDir, LOCK_FILE);
  const userRunDir = `/run/user/${uid}`;
  if (existsSync(userRunDir)) return join(userRunDir, LOCK_FILE);
  return join(tmpdir(), `rootless-cni-infra-${uid}.lock`);
}

export function hostConfig(flags: HostFlags, env: NodeJS.ProcessEnv = process.env): HostConfig {
  const podman = nonEmpty(flags.podman) ?? nonEmpty(env['PODMAN']) ?? 'podman';
  const image = nonEmpty(flags.image) ?? nonEmpty(env['ROOTLESS_CNI_INFRA_IMAGE']) ?? defaultImage();
  const home = nonEmpty(env['HOME']) ?? homedir();
  const configDir = resolve(
    nonEmpty(flags.configDir) ?? nonEmpty(env['ROOTLESS_CNI_CONFIG_DIR']) ?? join(home, '.config', 'cni', 'net.d'),
  );
  // podman -v takes SRC:DST[:OPTIONS]; a ':' or ',' in SRC would be misread.
  if (/[:,]/.test(configDir)) {
    throw new UsageError(`invalid CNI config directory ${JSON.stringify(configDir)}: must not contain ':' or ','`);
  }
  if (image.startsWith('-') || /\s/.test(image)) {
    throw new UsageError(`invalid image name ${JSON.stringify(image)}`);
  }
  return {
    podman,
    image,
    configDir,
    lockPath: lockPathFor(env),
    lockTimeoutMs: secondsFromEnv(env, 'ROOTLESS_CNI_LOCK_TIMEOUT', DEFAULT_TIMEOUT_MS),
    podmanTimeoutMs: secondsFromEnv(env, 'ROOTLESS_CNI_PODMAN_TIMEOUT', DEFAULT_TIMEOUT_MS),
  };
}
