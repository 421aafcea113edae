//! Sign-in: password verifiers and the SRP math they share.

pub mod mfa;
pub mod password;
pub mod srp;
