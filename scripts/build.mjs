#!/usr/bin/env node
// Builds the two artefacts:
//   dist/rootless-cni-infra  the agent: esbuild bundle -> pkg SEA, one executable
//   dist/rootless-cni        the host shim: one bundled script for the system Node
//
// pkg's SEA mode wants a Node release tarball it would download from the web.
// We have no web, but the npm package node-linux-<arch> ships the same official
// binary: we pack it into a tarball of the expected layout inside the project
// tree and point HOME there for the pkg call, so nothing outside the tree is
// read or written.
import { build } from 'esbuild';
import { bundleOptions } from './bundle-options.mjs';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const arch = { x64: 'x64', arm64: 'arm64' }[process.arch];
if (!arch) throw new Error(`unsupported architecture ${process.arch}`);

const what = process.argv[2] ?? 'all';
const dist = join(root, 'dist');
const bundleDir = join(root, 'build', 'bundle');
mkdirSync(dist, { recursive: true });
mkdirSync(bundleDir, { recursive: true });

async function bundle(entry, outfile, banner) {
  await build({ entryPoints: [join(root, entry)], outfile, ...bundleOptions(root, banner) });
}

function seaNodeVersion() {
  const pkgJson = JSON.parse(readFileSync(require.resolve(`node-linux-${arch}/package.json`), 'utf8'));
  return pkgJson.version;
}

// Node 22 has no SEA setting to stop the executable from honouring NODE_OPTIONS
// (Node 25's execArgvExtension: "none" does that), and a hostile value such as
// `--require /x` would run or break before any of our code. Node reads the
// variable through one C string, "NODE_OPTIONS\0", which we rename to a
// same-length name in the base binary. The agent then ignores NODE_OPTIONS;
// RCNI_NODEOPT takes its place for deliberate debugging (e.g. --cpu-prof).
const NODE_OPTIONS_CSTRING = Buffer.from('\0NODE_OPTIONS\0');
const RENAMED_CSTRING = Buffer.from('\0RCNI_NODEOPT\0');

function withoutNodeOptions(binary) {
  // The V8 snapshot also holds the name, as a length-prefixed JS string; only
  // the C string in .rodata follows another printable string.
  const found = [];
  for (let at = binary.indexOf(NODE_OPTIONS_CSTRING); at >= 0; at = binary.indexOf(NODE_OPTIONS_CSTRING, at + 1)) {
    if (at > 0 && binary[at - 1] >= 0x20 && binary[at - 1] < 0x7f) found.push(at);
  }
  if (found.length !== 1) {
    throw new Error(`expected one "NODE_OPTIONS" C string in the Node binary, found ${found.length}`);
  }
  const patched = Buffer.from(binary);
  RENAMED_CSTRING.copy(patched, found[0]);
  return patched;
}

function seedPkgCache(home, version) {
  const seaDir = join(home, '.pkg-cache', 'sea');
  const name = `node-v${version}-linux-${arch}`;
  const archive = join(seaDir, `${name}.tar.gz`);
  // The marker names the patch, so a cache seeded by an older build script is redone.
  const marker = join(seaDir, `${name}.patch-v1`);
  if (existsSync(`${archive}.ok`) && existsSync(archive) && existsSync(marker)) return;
  const staging = join(home, 'staging');
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(join(staging, name, 'bin'), { recursive: true });
  const nodeBinary = readFileSync(require.resolve(`node-linux-${arch}/bin/node`));
  writeFileSync(join(staging, name, 'bin', 'node'), withoutNodeOptions(nodeBinary), { mode: 0o755 });
  mkdirSync(seaDir, { recursive: true });
  execFileSync('tar', ['-czf', archive, '-C', staging, name]);
  writeFileSync(`${archive}.ok`, '');
  writeFileSync(marker, '');
  rmSync(staging, { recursive: true, force: true });
}

async function buildAgent() {
  const bundled = join(bundleDir, 'rootless-cni-infra.cjs');
  await bundle('agent/src/main.ts', bundled);
  const version = seaNodeVersion();
  const home = join(root, 'node_modules', '.cache', 'pkg-home');
  seedPkgCache(home, version);
  const output = join(dist, 'rootless-cni-infra');
  // pkg writes its output in place (copy Node, then inject): build beside it and
  // rename, so a running test or a parallel build never sees half an executable.
  const partial = join(dist, `.rootless-cni-infra.${process.pid}.tmp`);
  const pkgBin = join(dirname(require.resolve('@yao-pkg/pkg/package.json')), 'lib-es5', 'bin.js');
  // pkg's SEA mode must itself run on Node >= 22: use the same pinned binary.
  const node22 = require.resolve(`node-linux-${arch}/bin/node`);
  execFileSync(
    node22,
    [pkgBin, bundled, '--sea', '--targets', `node${version}-linux-${arch}`, '--output', partial],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, HOME: home, NODE_OPTIONS: '' } },
  );
  renameSync(partial, output);
  const size = statSync(output).size;
  console.log(`dist/rootless-cni-infra: ${(size / 1024 / 1024).toFixed(1)} MiB (pkg SEA, Node ${version})`);
}

async function buildHost() {
  const output = join(dist, 'rootless-cni');
  const partial = join(dist, `.rootless-cni.${process.pid}.tmp`);
  await bundle('host/src/main.ts', partial, '#!/usr/bin/env node');
  // The project's package.json says "type": "module"; this file is CommonJS.
  writeFileSync(join(dist, 'package.json'), '{"type":"commonjs"}\n');
  chmodSync(partial, 0o755);
  renameSync(partial, output);
  console.log('dist/rootless-cni: bundled script for the system Node');
}

if (what === 'all' || what === 'agent') await buildAgent();
if (what === 'all' || what === 'host') await buildHost();
