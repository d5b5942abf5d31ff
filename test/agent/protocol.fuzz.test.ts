import test from 'ava';
import { tempDir } from '../helpers/tempdirs.js';
import fc from 'fast-check';
import { fuzzParameters } from '../helpers/fuzz.js';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../common/src/errors.js';
import { loadAllNetworks, loadNetworkList } from '../../agent/src/cni/config.js';
import { allocRequestFromArgs, allocRequestFromJson, parseCapArgs } from '../../agent/src/protocol.js';
import { hostileString } from '../helpers/arbitraries.js';

// In-process properties over thousands of inputs: every input either becomes
// a request whose every field obeys the CNI rules, or is refused with a
// UserError (an "Error: ..." line), never another exception.

const CNI_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

function refusedCleanly(err: unknown): boolean {
  return err instanceof UserError && err.message.length > 0 && !err.message.includes('\n    at ');
}

test('positional alloc arguments', (t) => {
  fc.assert(
    fc.property(hostileString(), hostileString(), hostileString(), hostileString(), hostileString(), hostileString(), (id, net, pod, ip, mac, caps) => {
      try {
        const request = allocRequestFromArgs({ containerId: id, network: net, podName: pod, ip, mac, capArgs: caps });
        return (
          CNI_NAME.test(request.containerId) &&
          CNI_NAME.test(request.network) &&
          !/[;=\p{Cc}]/u.test(request.podName) &&
          (request.ip === undefined || !/[;=]/.test(request.ip)) &&
          (request.mac === undefined || /^[0-9a-f:]{17}$/.test(request.mac)) &&
          typeof request.capabilityArgs === 'object'
        );
      } catch (err) {
        return refusedCleanly(err);
      }
    }),
    fuzzParameters(3000),
  );
  t.pass();
});

test('stdin JSON requests of any shape', (t) => {
  const field = fc.oneof(hostileString(), fc.anything(), fc.constant(undefined));
  const request = fc.record(
    { ID: field, Network: field, CNIPodName: field, IP: field, MAC: field, Aliases: field, InterfaceName: field, PluginPaths: field, NetConfPath: field },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(fc.oneof(request, fc.anything()), (doc) => {
      try {
        const parsed = allocRequestFromJson(doc);
        return (
          CNI_NAME.test(parsed.containerId) &&
          CNI_NAME.test(parsed.network) &&
          (parsed.ifName === undefined || (parsed.ifName.length <= 15 && !/[/:\s]/.test(parsed.ifName))) &&
          (parsed.netConfPath === undefined || parsed.netConfPath.startsWith('/')) &&
          (parsed.pluginPath === undefined || parsed.pluginPath.every((p) => p.startsWith('/')))
        );
      } catch (err) {
        return refusedCleanly(err);
      }
    }),
    fuzzParameters(3000),
  );
  t.pass();
});

test('CAP_ARGS: a JSON object or a clear refusal', (t) => {
  fc.assert(
    fc.property(fc.oneof(hostileString(), fc.json(), fc.jsonValue().map((v) => JSON.stringify(v))), (text) => {
      try {
        const caps = parseCapArgs(text);
        return typeof caps === 'object' && caps !== null && !Array.isArray(caps);
      } catch (err) {
        return refusedCleanly(err);
      }
    }),
    fuzzParameters(3000),
  );
  t.pass();
});

test('network configuration files of any content', (t) => {
  const dir = tempDir('rci-fuzz-conf-');
  const plugin = fc.record({ type: fc.oneof(hostileString(), fc.constantFrom('bridge', 'x'), fc.anything()) }, { requiredKeys: [] });
  const doc = fc.oneof(
    fc.record(
      {
        cniVersion: fc.oneof(fc.constantFrom('0.1.0', '0.4.0', '1.0.0', '1.1.0'), hostileString(), fc.anything()),
        name: fc.oneof(fc.constant('target'), hostileString(), fc.anything()),
        plugins: fc.oneof(fc.array(fc.oneof(plugin, fc.anything()), { maxLength: 3 }), fc.anything()),
        type: fc.oneof(fc.constant('bridge'), fc.anything()),
        disableCheck: fc.anything(),
        cniVersions: fc.anything(),
      },
      { requiredKeys: [] },
    ),
    fc.anything(),
  );
  let counter = 0;
  fc.assert(
    fc.property(doc, fc.constantFrom('.conflist', '.conf', '.json'), fc.boolean(), (content, ext, raw) => {
      counter += 1;
      const file = join(dir, `f${counter}${ext}`);
      const text = JSON.stringify(content) ?? 'null';
      writeFileSync(file, raw ? text : `${text}}`);
      try {
        const list = loadNetworkList(dir, 'target');
        return list.name === 'target' && list.plugins.length > 0 && list.plugins.every((p) => CNI_NAME.test(p.type));
      } catch (err) {
        return refusedCleanly(err);
      } finally {
        loadAllNetworks(dir); // never throws for bad files
        rmSync(file);
      }
    }),
    fuzzParameters(1500),
  );
  t.pass();
});
