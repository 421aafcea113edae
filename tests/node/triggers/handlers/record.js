// Not a handler: appends each event a handler receives to $TRIGGER_STATE_DIR/events.jsonl,
// so the tests can check what idpool sent and how often.
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

function record(event) {
  const dir = process.env.TRIGGER_STATE_DIR;
  if (dir) fs.appendFileSync(path.join(dir, 'events.jsonl'), JSON.stringify(event) + '\n');
}

// A stand-in for an email service (SES, say): what a custom-challenge handler "sends".
function sendMail(to, subject, code) {
  const dir = process.env.TRIGGER_STATE_DIR;
  if (dir) fs.appendFileSync(path.join(dir, 'mail.jsonl'), JSON.stringify({ to, subject, code }) + '\n');
}

// Opens a code idpool sealed for a custom sender: AES-256-GCM with the key idpool's
// [sender-keys] holds for the pool's KMSKeyID (SENDER_KEY_HEX here), nonce first.
function decryptCode(sealed, keyHex) {
  const raw = Buffer.from(sealed, 'base64');
  const nonce = raw.subarray(0, 12);
  const tag = raw.subarray(raw.length - 16);
  const decipher = crypto.createDecipheriv('aes-256-gcm', Buffer.from(keyHex, 'hex'), nonce);
  decipher.setAAD(Buffer.from('idpool custom sender code'));
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString('utf8');
}

module.exports = { record, sendMail, decryptCode };
