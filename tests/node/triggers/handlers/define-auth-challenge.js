// Three custom rounds, all of which must be answered right; with SRP first
// (CHALLENGE_NAME SRP_A) the password is verified before them.
const { record } = require('./record');

exports.handler = async (event) => {
  record(event);
  let rounds = event.request.session;
  if (rounds.length > 0 && rounds[0].challengeName === 'SRP_A') {
    if (rounds.length === 1) {
      event.response.challengeName = 'PASSWORD_VERIFIER';
      event.response.issueTokens = false;
      event.response.failAuthentication = false;
      return event;
    }
    rounds = rounds.slice(2);
  }
  if (rounds.some((r) => !r.challengeResult)) {
    event.response.issueTokens = false;
    event.response.failAuthentication = true;
  } else if (rounds.length >= 3) {
    event.response.issueTokens = true;
    event.response.failAuthentication = false;
  } else {
    event.response.challengeName = 'CUSTOM_CHALLENGE';
    event.response.issueTokens = false;
    event.response.failAuthentication = false;
  }
  return event;
};
