-- Refresh-token rotation: when GetTokensFromRefreshToken replaced a token.
ALTER TABLE refresh_tokens ADD COLUMN rotated_at BIGINT;
