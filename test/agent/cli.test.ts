import test from 'ava';
import { agentExecutable } from '../helpers/paths.js';
import { parseJson, run } from '../helpers/run.js';

// These run the real pkg executable, from /, with an empty environment: no
// node_modules, no Node on the PATH.
const cleanEnv = {};
const COMMANDS = ['alloc', 'dealloc', 'is-idle', 'print-cni-result', 'print-netns-path', 'check', 'gc', 'list', 'dealloc-all', 'version'];

test('version prints the protocol and agent versions as JSON', async (t) => {
  const result = await run(agentExecutable, ['version'], { env: cleanEnv, cwd: '/' });
  t.is(result.code, 0, result.stderr);
  t.deepEqual(parseJson(result), { version: '7', agent: '0.1.0' });
  t.is(result.stderr, '');
});

test('a hostile NODE_OPTIONS is ignored', async (t) => {
  const result = await run(agentExecutable, ['version'], {
    env: { NODE_OPTIONS: '--require /nonexistent/evil.js --max-old-space-size=1' },
    cwd: '/',
  });
  t.is(result.code, 0, result.stderr);
  t.deepEqual(parseJson(result), { version: '7', agent: '0.1.0' });
});

test('an unknown command is an error on stderr with exit code 2', async (t) => {
  const result = await run(agentExecutable, ['frobnicate'], { env: cleanEnv, cwd: '/' });
  t.is(result.code, 2);
  t.is(result.stdout, '');
  t.regex(result.stderr, /^Error: unknown command or argument: frobnicate/);
  t.notRegex(result.stderr, /\n\s+at /, 'no stack trace');
});

test('no command is a usage error', async (t) => {
  const result = await run(agentExecutable, [], { env: cleanEnv, cwd: '/' });
  t.is(result.code, 2);
  t.regex(result.stderr, /^Error: no command given/);
});

test('help, --help and help <command> describe the commands', async (t) => {
  for (const args of [['help'], ['--help']]) {
    const result = await run(agentExecutable, args, { env: cleanEnv, cwd: '/' });
    t.is(result.code, 0, result.stderr);
    for (const command of COMMANDS) {
      t.regex(result.stdout, new RegExp(`rootless-cni-infra ${command}`), `${args.join(' ')} lists ${command}`);
    }
  }
  const one = await run(agentExecutable, ['help', 'version'], { env: cleanEnv, cwd: '/' });
  t.is(one.code, 0, one.stderr);
  t.regex(one.stdout, /protocol version/);
});
