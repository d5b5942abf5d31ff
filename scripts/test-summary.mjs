#!/usr/bin/env node
// Prints ava's closing counts as one plain line, "Tests: N passed, N failed, N skipped",
// which CI reads whatever the test runner.
import { readFileSync } from 'node:fs';

const text = readFileSync(process.argv[2], 'utf8');
const count = (pattern) => {
  const match = new RegExp(`^\\s*(\\d+) (?:tests? )?${pattern}\\s*$`, 'm').exec(text);
  return match ? Number(match[1]) : 0;
};
const passed = count('passed');
const failed = count('failed') + count('uncaught exceptions?') + count('unhandled rejections?') + count('timeouts?');
const skipped = count('skipped') + count('todo');
console.log(`Tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
