// Delivers codes itself (through the stand-in mail service), decrypting them with the
// key idpool's [sender-keys] holds for the pool's KMSKeyID (in SENDER_KEY_HEX here).
const { record, sendMail, decryptCode } = require('./record');

exports.handler = async (event) => {
  record(event);
  const code = decryptCode(event.request.code, process.env.SENDER_KEY_HEX);
  sendMail(event.request.userAttributes.email, event.triggerSource, code);
};
