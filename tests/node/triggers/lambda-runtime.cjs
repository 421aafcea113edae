// Runs a Lambda-style handler the way the Node.js Lambda runtime does: `handler(event,
// context, callback)`, where the handler may return a promise, call the callback, or
// use context.succeed/fail/done. Shared by run-handler.cjs (idpool's `command` target)
// and lambda-server.cjs (its Lambda Invoke API and `url` targets).
'use strict';

const path = require('path');
const crypto = require('crypto');

function invoke(file, event, functionName) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (err, result) => {
      if (settled) return;
      settled = true;
      if (err) reject(err instanceof Error ? err : new Error(String(err)));
      else resolve(result);
    };
    const started = Date.now();
    const context = {
      functionName: functionName || path.basename(file, '.js'),
      functionVersion: '$LATEST',
      awsRequestId: crypto.randomUUID(),
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, 5000 - (Date.now() - started)),
      succeed: (r) => finish(null, r),
      fail: (e) => finish(e),
      done: (e, r) => finish(e, r),
    };
    let handler;
    try {
      // A fresh copy per call is not needed: handlers keep no state between calls.
      handler = require(path.resolve(file)).handler;
    } catch (e) {
      return finish(e);
    }
    if (typeof handler !== 'function') {
      return finish(new Error(`${file} exports no handler function`));
    }
    try {
      const out = handler(event, context, finish);
      if (out && typeof out.then === 'function') out.then((r) => finish(null, r), finish);
    } catch (e) {
      finish(e);
    }
  });
}

// Lambda's error payload.
function errorPayload(err) {
  return { errorType: err.name || 'Error', errorMessage: err.message || String(err) };
}

module.exports = { invoke, errorPayload };
