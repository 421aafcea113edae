#!/usr/bin/env node
// idpool's `command` trigger target for Node.js handlers:
//   command = ["node", "run-handler.cjs", "handlers/pre-sign-up.js"]
// reads the event JSON on stdin, runs the handler, writes its result JSON on stdout
// (exit 0), or Lambda's {"errorType", "errorMessage"} on stdout (exit 1).
'use strict';

const { invoke, errorPayload } = require('./lambda-runtime.cjs');

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: run-handler.cjs HANDLER_FILE < event.json\n');
  process.exit(2);
}
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => (input += chunk));
process.stdin.on('end', async () => {
  let event;
  try {
    event = JSON.parse(input);
  } catch (e) {
    process.stdout.write(JSON.stringify(errorPayload(new Error(`event is not JSON: ${e.message}`))));
    process.exit(1);
  }
  try {
    const result = await invoke(file, event);
    // Like Lambda, an undefined result is `null`.
    process.stdout.write(result === undefined ? 'null' : JSON.stringify(result));
    process.exit(0);
  } catch (e) {
    process.stdout.write(JSON.stringify(errorPayload(e)));
    process.exit(1);
  }
});
