// Never answers in time: counts its attempts, then sleeps past idpool's timeout.
const { record } = require('./record');

exports.handler = async (event) => {
  record({ triggerSource: 'fail-slow-attempt', userPoolId: event.userPoolId });
  await new Promise((resolve) => setTimeout(resolve, 10000));
  return event;
};
