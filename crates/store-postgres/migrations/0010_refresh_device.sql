-- The remembered/tracked device a refresh token was issued to. With device tracking,
-- Cognito links a refresh token to its device: renewing it takes that DEVICE_KEY, and
-- stops working once the device is forgotten.
ALTER TABLE refresh_tokens ADD COLUMN device_key TEXT;
