// The two functions yargs takes from node:assert. Loading node:assert costs
// ~9 ms of the agent's startup (it pulls in util inspection and stderr).
'use strict';
function fail(message, actual, expected, operator) {
  const error = new Error(message || `${String(actual)} ${operator} ${String(expected)}`);
  error.code = 'ERR_ASSERTION';
  throw error;
}
module.exports = {
  strictEqual(actual, expected, message) {
    if (!Object.is(actual, expected)) fail(message, actual, expected, '===');
  },
  notStrictEqual(actual, expected, message) {
    if (Object.is(actual, expected)) fail(message, actual, expected, '!==');
  },
};
