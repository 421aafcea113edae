// The directory being migrated from.
const { record } = require('./record');

const LEGACY = {
  'legacy-user': { password: 'LegacyPass1', email: 'legacy@example.com' },
  'legacy-reset': { password: 'OtherPass1', email: 'reset@example.com' },
  // Both claim an email another user of the pool holds as a verified alias.
  'legacy-clash': { password: 'ClashPass1', email: 'taken@example.com' },
  'legacy-alias': {
    password: 'AliasPass1',
    email: 'taken@example.com',
    phone_number: '+15550100',
    forceAliasCreation: true,
    enableSMSMFA: true,
  },
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
  if (found.phone_number) event.response.userAttributes.phone_number = found.phone_number;
  if (found.forceAliasCreation) event.response.forceAliasCreation = true;
  if (found.enableSMSMFA) event.response.enableSMSMFA = true;
  event.response.messageAction = 'SUPPRESS';
  return event;
};
