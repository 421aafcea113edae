//! Tokens: RS256 JWTs signed with per-pool keys, their claims, and refresh tokens.

pub mod certificate;
pub mod claims;
pub mod jwt;
pub mod keys;
