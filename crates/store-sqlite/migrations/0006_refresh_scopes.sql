-- The OAuth scopes a refresh token was granted (space-separated); NULL for tokens of
-- the API sign-in flows, whose access tokens carry aws.cognito.signin.user.admin.
ALTER TABLE refresh_tokens ADD COLUMN scopes TEXT;
