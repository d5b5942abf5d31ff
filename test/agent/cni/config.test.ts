import test from 'ava';
import { tempDir } from '../../helpers/tempdirs.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAllNetworks, loadNetworkList, parseConfigList } from '../../../agent/src/cni/config.js';

function confDir(files: Record<string, unknown>): string {
  const dir = tempDir('rci-conf-');
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

const list = (name: string, marker: string, version = '1.0.0') => ({
  cniVersion: version,
  name,
  plugins: [{ type: 'bridge', marker }],
});
const single = (name: string, marker: string) => ({ cniVersion: '0.4.0', name, type: 'bridge', marker });

test('.conflist files come first, in lexical order; the first match wins', (t) => {
  const dir = confDir({
    '20-b.conflist': list('net', 'second'),
    '10-a.conflist': list('net', 'first'),
    '00-single.conf': single('net', 'single'),
  });
  const loaded = loadNetworkList(dir, 'net');
  t.is(loaded.plugins[0]!['marker'], 'first');
  t.is(loaded.source, join(dir, '10-a.conflist'));
});

test('.conf and .json files are upgraded to lists; other files are ignored', (t) => {
  const dir = confDir({
    '10-x.json': single('fromjson', 'json'),
    '20-y.conf': single('fromconf', 'conf'),
    'net.conflist.bak': list('ignored', 'bak'),
    'README': 'not json',
  });
  const loaded = loadNetworkList(dir, 'fromconf');
  t.deepEqual(loaded.raw, { cniVersion: '0.4.0', name: 'fromconf', plugins: [single('fromconf', 'conf')] });
  t.is(loaded.cniVersion, '0.4.0');
  t.is(loadNetworkList(dir, 'fromjson').plugins[0]!['marker'], 'json');
  t.throws(() => loadNetworkList(dir, 'ignored'), { message: `network "ignored" not found in ${dir}` });
});

test('a broken file does not stop other networks; it is named when the network is not found', (t) => {
  const dir = confDir({ '00-broken.conflist': '{"name": "net", plugins: [', '10-good.conflist': list('good', 'ok') });
  t.is(loadNetworkList(dir, 'good').name, 'good');
  const error = t.throws(() => loadNetworkList(dir, 'net'));
  t.regex(error!.message, /network "net" not found in .*; unreadable files: .*00-broken\.conflist: invalid JSON: /);
  const all = loadAllNetworks(dir);
  t.deepEqual(all.networks.map((n) => n.name), ['good']);
  t.is(all.broken.length, 1);
});

test('an invalid file for the asked network is an error naming the file and the problem', (t) => {
  const dir = confDir({
    'a.conflist': { cniVersion: '1.0.0', name: 'noplugins', plugins: [] },
    'b.conflist': { cniVersion: '7.0.0', name: 'badversion', plugins: [{ type: 'x' }] },
    'c.conflist': { cniVersion: '1.0.0', name: 'notype', plugins: [{}] },
    'd.conflist': { cniVersion: '1.0.0', name: 'traversal', plugins: [{ type: '../../bin/sh' }] },
    'e.conflist': { name: 'noversion', plugins: [{ type: 'x' }] },
    'f.conflist': { cniVersion: '1.0.0', name: 'badcheck', disableCheck: 'yes', plugins: [{ type: 'x' }] },
  });
  t.throws(() => loadNetworkList(dir, 'noplugins'), { message: `${dir}/a.conflist: "plugins" must be a non-empty array` });
  t.throws(() => loadNetworkList(dir, 'badversion'), { message: /b\.conflist: unknown cniVersion "7\.0\.0" \(known: 0\.1\.0, / });
  t.throws(() => loadNetworkList(dir, 'notype'), { message: `${dir}/c.conflist: plugins[0] has no "type"` });
  t.throws(() => loadNetworkList(dir, 'traversal'), { message: /d\.conflist: plugins\[0\] has an invalid "type" "..\/..\/bin\/sh"/ });
  t.throws(() => loadNetworkList(dir, 'noversion'), { message: /e\.conflist: "cniVersion" is missing/ });
  t.throws(() => loadNetworkList(dir, 'badcheck'), { message: /f\.conflist: "disableCheck" must be a boolean/ });
  t.throws(() => loadNetworkList(dir, '../etc'), { message: /invalid network name/ });
});

test('network names in files follow the CNI rules', (t) => {
  t.throws(() => parseConfigList({ cniVersion: '1.0.0', name: 'a/b', plugins: [{ type: 'x' }] }, 'f'), {
    message: /^f: invalid network name "a\/b"/,
  });
});

test('disableCheck, disableGC and cniVersions (1.1.0)', (t) => {
  const parsed = parseConfigList(
    { cniVersion: '1.0.0', cniVersions: ['0.4.0', '1.1.0', '9.0.0'], name: 'n', disableCheck: 'true', disableGC: true, plugins: [{ type: 'x' }] },
    'f',
  );
  t.is(parsed.cniVersion, '1.1.0');
  t.true(parsed.disableCheck);
  t.true(parsed.disableGC);
});

test('the built-in podman network, unless a file defines it', (t) => {
  const empty = confDir({});
  const builtin = loadNetworkList(empty, 'podman');
  t.is(builtin.source, 'built-in');
  t.deepEqual(builtin.plugins.map((p) => p.type), ['bridge', 'portmap', 'firewall', 'tuning']);
  t.is(builtin.plugins[0]!['bridge'], 'cni-podman0');
  t.deepEqual(builtin.plugins[1]!.capabilities, { portMappings: true });
  const dir = confDir({ '99-mine.conflist': list('podman', 'mine') });
  t.is(loadNetworkList(dir, 'podman').plugins[0]!['marker'], 'mine');
  t.is(loadNetworkList(join(empty, 'missing-dir'), 'podman').source, 'built-in');
  mkdirSync(join(empty, 'sub.conflist'));
  t.throws(() => loadNetworkList(empty, 'other'), { message: /network "other" not found/ });
});
