-- When a refresh token last renewed its session without being replaced (no rotation),
-- recorded only while the pool tracks sessions: ListUserSessions' LastActiveDate.
ALTER TABLE refresh_tokens ADD COLUMN last_used_at BIGINT;
