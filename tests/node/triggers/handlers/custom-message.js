// Rewrites the sign-up email; other messages keep the pool's templates.
const { record } = require('./record');

exports.handler = async (event) => {
  record(event);
  if (event.triggerSource === 'CustomMessage_SignUp') {
    const email = event.request.userAttributes.email;
    event.response.emailSubject = 'Welcome to Acme';
    event.response.emailMessage = `Welcome to Acme, ${email}! Your code is ${event.request.codeParameter}.`;
  }
  return event;
};
