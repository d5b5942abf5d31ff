/** A bridge + host-local network in its own subnet, with host-local state in the infra's tmpfs. */
export function bridgeNetwork(name: string, bridge: string, subnet: string, gateway: string, version = '1.0.0'): Record<string, unknown> {
  return {
    cniVersion: version,
    name,
    plugins: [
      {
        type: 'bridge',
        bridge,
        isGateway: true,
        ipMasq: true,
        ipam: { type: 'host-local', ranges: [[{ subnet, gateway }]], routes: [{ dst: '0.0.0.0/0' }] },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
      { type: 'firewall' },
      { type: 'tuning' },
    ],
  };
}
