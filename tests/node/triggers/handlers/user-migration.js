// The directory being migrated from.
const { record } = require('./record');

const LEGACY = {
  'legacy-user': { password: 'LegacyPass1', email: 'legacy@example.com' },
  'legacy-reset': { password: 'OtherPass1', email: 'reset@example.com' },
};

exports.handler = async (event) => {
  record(event);
  const found = LEGACY[event.userName];
  if (!found) throw new Error('User not found');
  if (event.triggerSource === 'UserMigration_Authentication') {
    if (event.request.password !== found.password) throw new Error('Bad password');
    event.response.finalUserStatus = 'CONFIRMED';
  } else {
    event.response.finalUserStatus = 'RESET_REQUIRED';
  }
  event.response.userAttributes = { email: found.email, email_verified: 'true' };
  event.response.messageAction = 'SUPPRESS';
  return event;
};
