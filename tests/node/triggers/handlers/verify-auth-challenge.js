const { record } = require('./record');

exports.handler = async (event) => {
  record(event);
  event.response.answerCorrect =
    event.request.challengeAnswer === event.request.privateChallengeParameters.answer;
  return event;
};
