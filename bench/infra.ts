import { TestInfra } from '../test/helpers/infra.js';
import { cleanup, driver, driverScript } from './lib.js';

/*
 * The stand-in infra container of the root tests (test/helpers/infra.ts):
 * a private network and mount namespace with tmpfs state. The driver runs
 * inside it (nsenter), so nothing timed goes through nsenter.
 */

export { TestInfra };

export const PLUGIN_DIR = '/usr/lib/cni';

/** Starts a stand-in infra; `stop` stops it (with its holders), as an interruption does. */
export async function startInfra(): Promise<{ infra: TestInfra; stop: () => Promise<void> }> {
  const infra = await TestInfra.start();
  return { infra, stop: cleanup(() => infra.stop()) };
}

/** What the agent sees inside: the plugins and this infra's config dir. */
export function agentEnv(infra: TestInfra): Record<string, string> {
  return { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', CNI_PATH: PLUGIN_DIR, NETCONFPATH: infra.confDir };
}

/** Marker of the holders the driver starts for the floor: TestInfra.stop() kills them too. */
export function floorMarker(infra: TestInfra): string {
  return `${infra.netnsId}|bench-floor`;
}

export function inInfra<T>(infra: TestInfra, request: unknown): Promise<T> {
  return driver<T>(['nsenter', '-t', String(infra.pid), '--mount', '--net', '--'], process.execPath, driverScript, request);
}

/**
 * A network with the bridge plugin only (host-local IPAM), gateway on the
 * bridge, no masquerading (ipMasq adds about ten iptables runs per ADD and
 * DEL; the podman chain has it): the cheapest real chain, so the agent's own
 * overhead shows.
 */
export function bridgeOnly(name: string, bridge: string, subnet: string, gateway: string): {
  name: string;
  cniVersion: string;
  plugins: Array<Record<string, unknown> & { type: string }>;
} {
  return {
    cniVersion: '1.0.0',
    name,
    plugins: [
      {
        type: 'bridge',
        bridge,
        isGateway: true,
        ipMasq: false,
        ipam: { type: 'host-local', ranges: [[{ subnet, gateway }]], routes: [{ dst: '0.0.0.0/0' }] },
      },
    ],
  };
}
