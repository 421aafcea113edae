// Suspended accounts may not sign in.
const { record } = require('./record');

exports.handler = async (event) => {
  record(event);
  if (event.request.userAttributes['custom:suspended'] === 'yes') {
    throw new Error('Account suspended');
  }
  return event;
};
