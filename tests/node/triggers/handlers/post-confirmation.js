// Creates the app's profile row; its store is "down" for emails starting with postfail.
const { record } = require('./record');

exports.handler = async (event) => {
  record(event);
  if ((event.request.userAttributes.email || '').startsWith('postfail')) {
    throw new Error('Profile store unavailable');
  }
  return event;
};
