/**
 * The built-in `podman` network, used when no configuration file defines a
 * network of that name: podman's own default (87-podman-bridge.conflist), with
 * cniVersion 0.4.0 so that podman 3, whose libcni predates 1.0.0, can read the
 * results.
 */
export const DEFAULT_NETWORK_NAME = 'podman';

export function defaultNetworkDocument(): Record<string, unknown> {
  return {
    cniVersion: '0.4.0',
    name: DEFAULT_NETWORK_NAME,
    plugins: [
      {
        type: 'bridge',
        bridge: 'cni-podman0',
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          routes: [{ dst: '0.0.0.0/0' }],
          ranges: [[{ subnet: '10.88.0.0/16', gateway: '10.88.0.1' }]],
        },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
      { type: 'firewall' },
      { type: 'tuning' },
    ],
  };
}
