// Delivers codes itself (through the stand-in mail service), decrypting them with the
// key idpool's [sender-keys] holds for the pool's KMSKeyID (in SENDER_KEY_HEX here).
const crypto = require('crypto');
const { record, sendMail } = require('./record');

function decryptCode(sealed, keyHex) {
  const raw = Buffer.from(sealed, 'base64');
  const nonce = raw.subarray(0, 12);
  const tag = raw.subarray(raw.length - 16);
  const decipher = crypto.createDecipheriv('aes-256-gcm', Buffer.from(keyHex, 'hex'), nonce);
  decipher.setAAD(Buffer.from('idpool custom sender code'));
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString('utf8');
}

exports.handler = async (event) => {
  record(event);
  const code = decryptCode(event.request.code, process.env.SENDER_KEY_HEX);
  sendMail(event.request.userAttributes.email, event.triggerSource, code);
};
