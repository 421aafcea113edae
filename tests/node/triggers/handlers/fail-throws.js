exports.handler = async () => {
  throw new Error('Nobody signs up today');
};
