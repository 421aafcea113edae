//! idpool's rules, independent of HTTP and of any database: password policy, SRP math,
//! token minting, identifiers, attribute and filter rules. Time comes in as `now`
//! (Unix milliseconds) so every rule is testable without a clock.

pub mod attributes;
pub mod auth;
pub mod branding;
pub mod context_data;
pub mod crypto;
pub mod error;
pub mod filter;
pub mod groups;
pub mod identity_providers;
pub mod ids;
pub mod password_policy;
pub mod policy;
pub mod risk;
pub mod saml;
pub mod tokens;
pub mod triggers;
pub mod user_agent;

pub use error::DomainError;
