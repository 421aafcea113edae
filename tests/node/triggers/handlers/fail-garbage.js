// Answers something that is not an event.
exports.handler = async () => 'not an event';
