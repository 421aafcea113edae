#!/usr/bin/env node
// A small stand-in for AWS Lambda, for the trigger tests:
//   POST /2015-03-31/functions/{FunctionName}/invocations   the Invoke API; the
//        request must carry a valid SigV4 signature (service "lambda") made with the
//        secret in LAMBDA_SECRET_ACCESS_KEY (default "test"); a handler error answers
//        200 with X-Amz-Function-Error: Unhandled, as Lambda does.
//   POST /url/{name}                                         idpool's `url` target: the
//        event in, the result out; a handler error answers 500 {"errorMessage"}.
// {name} runs HANDLERS_DIR/{name}.js. Prints "LISTENING <port>" once ready.
'use strict';

const http = require('http');
const path = require('path');
const fs = require('fs');
const crypto = require('crypto');
const { invoke, errorPayload } = require('./lambda-runtime.cjs');

const handlersDir = process.argv[2] || path.join(__dirname, 'handlers');
const secret = process.env.LAMBDA_SECRET_ACCESS_KEY || 'test';

const rfc3986 = (s) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
const sha256 = (data) => crypto.createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => crypto.createHmac('sha256', key).update(data).digest();

// Verifies AWS Signature Version 4 as Lambda would: null if valid, else why not.
function sigv4Problem(req, body) {
  const auth = req.headers['authorization'] || '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return `malformed Authorization: ${auth}`;
  const [, , date, region, service, signedHeaders, signature] = m;
  if (service !== 'lambda') return `signed for service ${service}`;
  const amzDate = req.headers['x-amz-date'] || '';
  if (!amzDate.startsWith(date)) return 'x-amz-date does not match the credential scope';
  const [rawPath] = req.url.split('?');
  const canonicalUri = rawPath.split('/').map(rfc3986).join('/');
  const names = signedHeaders.split(';');
  if (!names.includes('host')) return 'host is not signed';
  const canonicalHeaders = names.map((n) => `${n}:${String(req.headers[n] || '').trim()}\n`).join('');
  const canonical = ['POST', canonicalUri, '', canonicalHeaders, signedHeaders, sha256(body)].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  let key = hmac('AWS4' + secret, date);
  key = hmac(key, region);
  key = hmac(key, service);
  key = hmac(key, 'aws4_request');
  const expected = hmac(key, toSign).toString('hex');
  return expected === signature ? null : 'signature mismatch';
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

function handlerFile(name) {
  const file = path.join(handlersDir, `${path.basename(name)}.js`);
  return fs.existsSync(file) ? file : null;
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const invokeMatch = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(req.url.split('?')[0]);
    const urlMatch = /^\/url\/([A-Za-z0-9_-]+)$/.exec(req.url);
    if (req.method !== 'POST' || (!invokeMatch && !urlMatch)) {
      return send(res, 404, { message: `no route ${req.method} ${req.url}` });
    }
    if (invokeMatch) {
      const problem = sigv4Problem(req, body);
      if (problem) {
        return send(res, 403, { Type: 'User', message: problem }, { 'x-amzn-errortype': 'InvalidSignatureException' });
      }
    }
    // An ARN names the function after "function:", maybe with a :qualifier.
    let name = decodeURIComponent(invokeMatch ? invokeMatch[1] : urlMatch[1]);
    const fn = /function:([^:]+)/.exec(name);
    if (fn) name = fn[1];
    const file = handlerFile(name);
    if (!file) {
      return send(res, 404, { Type: 'User', message: `Function not found: ${name}` }, {
        'x-amzn-errortype': 'ResourceNotFoundException',
      });
    }
    let event;
    try {
      event = JSON.parse(body);
    } catch (e) {
      return send(res, 400, { Type: 'User', message: 'event is not JSON' });
    }
    try {
      const result = await invoke(file, event, name);
      send(res, 200, result === undefined ? 'null' : JSON.stringify(result));
    } catch (e) {
      if (invokeMatch) send(res, 200, errorPayload(e), { 'x-amz-function-error': 'Unhandled' });
      else send(res, 500, errorPayload(e));
    }
  });
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});
