import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_VERSION, PROTOCOL_VERSION } from '../../common/src/version.js';
import { projectRoot } from '../helpers/paths.js';

test('the agent version is package.json\'s and the protocol version is an integer', (t) => {
  const pkg = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string };
  t.is(AGENT_VERSION, pkg.version);
  t.regex(PROTOCOL_VERSION, /^[1-9][0-9]*$/);
});
