// Round 1: a code sent by email; round 2: a question; round 3: echo a nonce backwards.
const crypto = require('crypto');
const { record, sendMail } = require('./record');

exports.handler = async (event) => {
  record(event);
  const round = event.request.session.filter((r) => r.challengeName === 'CUSTOM_CHALLENGE').length;
  const email = event.request.userAttributes.email;
  if (round === 0) {
    const code = String(crypto.randomInt(100000, 1000000));
    sendMail(email, 'Your sign-in code', code);
    event.response.publicChallengeParameters = { kind: 'email-code', destination: email };
    event.response.privateChallengeParameters = { answer: code };
    event.response.challengeMetadata = 'EMAIL_CODE';
  } else if (round === 1) {
    event.response.publicChallengeParameters = { kind: 'question', question: 'What is 6 times 7?' };
    event.response.privateChallengeParameters = { answer: '42' };
    event.response.challengeMetadata = 'QUESTION';
  } else {
    const nonce = crypto.randomBytes(4).toString('hex');
    event.response.publicChallengeParameters = { kind: 'echo', nonce };
    event.response.privateChallengeParameters = { answer: nonce.split('').reverse().join('') };
    event.response.challengeMetadata = 'ECHO';
  }
  return event;
};
