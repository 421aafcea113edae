// Delivers SMS codes itself (the stand-in for an SMS gateway is the same log as the mail
// service's, addressed to the phone number), decrypting them like custom-email-sender.
const { record, sendMail, decryptCode } = require('./record');

exports.handler = async (event) => {
  record(event);
  const code = decryptCode(event.request.code, process.env.SENDER_KEY_HEX);
  sendMail(event.request.userAttributes.phone_number, event.triggerSource, code);
};
