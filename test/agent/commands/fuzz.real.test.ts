import fc from 'fast-check';
import { fuzzParameters } from '../../helpers/fuzz.js';
import { TestInfra } from '../../helpers/infra.js';
import { hostileString } from '../../helpers/arbitraries.js';
import { bridgeNetwork } from '../../helpers/networks.js';
import { realTest as test } from '../../helpers/root-requirements.js';
import { parseJson } from '../../helpers/run.js';

// The real executable, in a stand-in infra whose root filesystem is read-only
// (only /run and /var/lib/cni, tmpfs, are writable): generated commands must
// each succeed with one JSON document or fail with one "Error:" line, never
// crash, never write elsewhere (that would fail with EROFS), and never change
// another container's state.

const id = fc.oneof(hostileString(), fc.constantFrom('fz1', 'fz2', 'fz3')).filter((s) => s !== 'bystander');
const network = fc.oneof(hostileString(), fc.constantFrom('podman', 'fuzznet', 'missing'));
const command = fc.oneof(
  fc.tuple(id, network, hostileString(), hostileString(), hostileString(), hostileString()).map(([i, n, p, ip, mac, caps]) => ({
    args: ['alloc', i, n, p, ip, mac, caps],
  })),
  fc.tuple(id, network, hostileString()).map(([i, n, p]) => ({ args: ['alloc', i, n, p] })),
  fc.record({ ID: fc.oneof(id, fc.anything()), Network: fc.oneof(network, fc.anything()), InterfaceName: fc.oneof(hostileString(), fc.constant(undefined)), NetConfPath: fc.oneof(hostileString(), fc.constant(undefined)) }, { requiredKeys: [] })
    .map((doc) => ({ args: ['alloc'], input: JSON.stringify(doc) })),
  fc.tuple(id, network).map(([i, n]) => ({ args: ['dealloc', i, n] })),
  fc.tuple(id, network).map(([i, n]) => ({ args: ['print-cni-result', i, n] })),
  fc.tuple(id).map(([i]) => ({ args: ['print-netns-path', i] })),
  fc.tuple(id, network).map(([i, n]) => ({ args: ['check', i, n] })),
  fc.tuple(id, hostileString()).map(([i, flag]) => ({ args: ['alloc', i, 'fuzznet', 'p', '--ifname', flag] })),
  hostileString().map((s) => ({ args: [s] })),
);

test('generated commands: JSON or one Error line, no write outside the state dirs, bystanders untouched', async (t) => {
  const infra = await TestInfra.start({ readOnlyRoot: true });
  t.teardown(() => infra.stop());
  infra.writeConf('fuzz.conflist', bridgeNetwork('fuzznet', 'cni-fuzz0', '10.61.0.0/24', '10.61.0.1'));
  const bystander = await infra.agent(['alloc', 'bystander', 'fuzznet', 'by', '', '', '{"portMappings":[{"hostPort":9090,"containerPort":90,"protocol":"tcp"}]}']);
  t.is(bystander.code, 0, bystander.stderr);
  // The detector works: a state dir on the read-only root fails with EROFS.
  const control = await infra.agent(['alloc', 'ctl', 'fuzznet', 'p'], { env: { ROOTLESS_CNI_INFRA_RUN_DIR: '/var/tmp/rci-control' } });
  t.regex(control.stderr, /^Error: cannot create the state directory \/var\/tmp\/rci-control: /);
  const snapshot = () => infra.execOk(['sh', '-c', 'cd /run/rootless-cni-infra/bystander && find . -type f | sort | xargs cat; cat /var/lib/cni/results/*bystander*']);
  const before = snapshot();
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(command, async (generated: { args: string[]; input?: string }) => {
      // A NUL cannot be passed in argv at all (it can in stdin JSON, as \u0000).
      const args = generated.args.map((a) => a.replaceAll('\0', ''));
      const input = generated.input;
      runs += 1;
      const result = await infra.agent(args, input === undefined ? {} : { input });
      if (result.code === 0) {
        // An argument that is "--help" or "-h" asks for help, which is text.
        if (args.some((a) => a === '--help' || a === '-h' || a === 'help') && result.stdout.includes('rootless-cni-infra')) return true;
        parseJson(result);
        return result.stderr === '' || !/\n\s+at /.test(result.stderr);
      }
      const lines = result.stderr.trimEnd().split('\n');
      return (
        result.signal === null &&
        result.stdout === '' &&
        lines.length === 1 &&
        lines[0]!.startsWith('Error: ') &&
        // (a recursive mkdir on a read-only filesystem reports ENOENT)
        !/EROFS|read-only file system|ENOENT: no such file or directory, mkdir/i.test(result.stderr)
      );
    }),
    fuzzParameters(150, { endOnFailure: true }),
  );
  t.log(`${runs} generated commands`);
  t.is(snapshot(), before, 'the bystander container\'s state did not change');
  // Whatever the generated commands allocated goes, then the bystander.
  const listed = parseJson(await infra.agent(['list'])) as { allocations: Array<{ container: string; networks: Array<{ network: string }> }> };
  for (const allocation of listed.allocations) {
    for (const n of allocation.networks) t.is((await infra.agent(['dealloc', allocation.container, n.network])).code, 0);
  }
  t.deepEqual(parseJson(await infra.agent(['is-idle'])), { idle: true });
  t.deepEqual(infra.holders(), []);
  t.deepEqual(infra.ipamReservations('fuzznet'), []);
  t.notRegex(infra.iptablesRules('nat'), /9090/);
});
