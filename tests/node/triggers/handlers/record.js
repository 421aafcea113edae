// Not a handler: appends each event a handler receives to $TRIGGER_STATE_DIR/events.jsonl,
// so the tests can check what idpool sent and how often.
const fs = require('fs');
const path = require('path');

function record(event) {
  const dir = process.env.TRIGGER_STATE_DIR;
  if (dir) fs.appendFileSync(path.join(dir, 'events.jsonl'), JSON.stringify(event) + '\n');
}

// A stand-in for an email service (SES, say): what a custom-challenge handler "sends".
function sendMail(to, subject, code) {
  const dir = process.env.TRIGGER_STATE_DIR;
  if (dir) fs.appendFileSync(path.join(dir, 'mail.jsonl'), JSON.stringify({ to, subject, code }) + '\n');
}

module.exports = { record, sendMail };
