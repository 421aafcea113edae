// V1_0 event (the legacy PreTokenGeneration key): ID-token claims and the groups.
const { record } = require('./record');

exports.handler = async (event) => {
  record(event);
  event.response.claimsOverrideDetails = {
    claimsToAddOrOverride: { department: 'engineering' },
    claimsToSuppress: ['email'],
    groupOverrideDetails: {
      groupsToOverride: ['v1-group'],
      iamRolesToOverride: ['arn:aws:iam::123456789012:role/v1'],
      preferredRole: 'arn:aws:iam::123456789012:role/v1',
    },
  };
  return event;
};
