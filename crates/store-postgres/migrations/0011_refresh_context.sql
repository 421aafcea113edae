-- Where a token session was last seen (JSON: ip, device, city, country), recorded only
-- while the pool tracks sessions: ListUserSessions reports it as the session's
-- LastIPAddress, DeviceType and LastLocation.
ALTER TABLE refresh_tokens ADD COLUMN context TEXT;
