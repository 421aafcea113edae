// V2_0 event: a tenant claim in both tokens, an extra scope, and the groups replaced.
const { record } = require('./record');

exports.handler = async (event) => {
  record(event);
  event.response = {
    claimsAndScopeOverrideDetails: {
      idTokenGeneration: {
        claimsToAddOrOverride: { tenant: 'acme', plan: { name: 'gold', seats: 5 } },
        claimsToSuppress: ['phone_number'],
      },
      accessTokenGeneration: {
        claimsToAddOrOverride: { tenant: 'acme' },
        scopesToAdd: ['api/read'],
      },
      groupOverrideDetails: { groupsToOverride: ['from-trigger'] },
    },
  };
  return event;
};
