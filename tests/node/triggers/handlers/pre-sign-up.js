// Refuses one domain, auto-confirms and auto-verifies another.
const { record } = require('./record');

exports.handler = async (event) => {
  record(event);
  const email = event.request.userAttributes.email || '';
  if (email.endsWith('@blocked.example')) {
    throw new Error('Sign-ups from blocked.example are not allowed');
  }
  if (email.endsWith('@auto.example')) {
    event.response.autoConfirmUser = true;
    event.response.autoVerifyEmail = true;
  }
  return event;
};
