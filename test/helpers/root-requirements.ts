import { commandExists, isRoot, testWhen } from './requirements.js';
import { CNI_PLUGIN_DIR } from './infra.js';

/** `test` for tests that need root, the real CNI plugins and iproute2/iptables/util-linux. */
export const realTest = testWhen(
  [
    ...(isRoot ? [] : ['root']),
    ...['bridge', 'host-local', 'portmap', 'firewall', 'tuning']
      .filter((p) => !commandExists(`${CNI_PLUGIN_DIR}/${p}`))
      .map((p) => `the ${p} CNI plugin (containernetworking-plugins)`),
    ...['/usr/bin/unshare', '/usr/bin/nsenter', '/usr/bin/flock', '/usr/sbin/ip', '/usr/sbin/iptables']
      .filter((c) => !commandExists(c)),
  ],
  'tests with the real CNI plugins',
);
