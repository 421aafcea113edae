// Callback style, as older handlers are written.
const { record } = require('./record');

exports.handler = (event, context, callback) => {
  record(event);
  callback(null, event);
};
