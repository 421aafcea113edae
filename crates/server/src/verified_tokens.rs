//! Access tokens whose RS256 signature this node has already checked.
//!
//! An app calls GetUser and the other access-token operations many times with one token
//! over its hour of life, and the signature check (with decoding the token) was the
//! largest cost of GetUser after the database read. A signature that verified once
//! verifies forever, so remembering the result is safe on any node. Only the signature
//! is remembered: expiry, the signing key still existing, revocation (GlobalSignOut,
//! RevokeToken) and the user's state are checked on every request as before.
//!
//! Bounded memory: two generations of at most `GENERATION` tokens each. When the
//! current one fills, it becomes the previous one and the older tokens are dropped;
//! a hit in the previous generation moves the token forward, so tokens in use stay.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Tokens per generation. An access token's claims take about 1 to 2 KB, so the cache
/// stays under about 16 MB.
const GENERATION: usize = 4096;

/// A token whose signature checked out with the key `kid`.
pub struct VerifiedToken {
    pub kid: String,
    pub claims: Value,
}

/// Keyed by SHA-256 of the whole token, so a hit is the very token that was verified.
type Digest = [u8; 32];

#[derive(Default)]
pub struct VerifiedTokens {
    generations: Mutex<Generations>,
}

#[derive(Default)]
struct Generations {
    current: HashMap<Digest, Arc<VerifiedToken>>,
    previous: HashMap<Digest, Arc<VerifiedToken>>,
}

impl Generations {
    fn insert(&mut self, digest: Digest, token: Arc<VerifiedToken>) {
        if self.current.len() >= GENERATION {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(digest, token);
    }
}

impl VerifiedTokens {
    pub fn get(&self, digest: &Digest) -> Option<Arc<VerifiedToken>> {
        let mut generations = self.generations.lock().expect("lock");
        if let Some(token) = generations.current.get(digest) {
            return Some(token.clone());
        }
        let token = generations.previous.remove(digest)?;
        generations.insert(*digest, token.clone());
        Some(token)
    }

    pub fn insert(&self, digest: Digest, token: Arc<VerifiedToken>) {
        self.generations.lock().expect("lock").insert(digest, token);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        let generations = self.generations.lock().expect("lock");
        generations.current.len() + generations.previous.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(n: usize) -> Digest {
        let mut d = [0u8; 32];
        d[..8].copy_from_slice(&(n as u64).to_be_bytes());
        d
    }

    fn token(n: usize) -> Arc<VerifiedToken> {
        Arc::new(VerifiedToken {
            kid: format!("kid-{n}"),
            claims: Value::Null,
        })
    }

    #[test]
    fn bounded_and_keeps_tokens_in_use() {
        let cache = VerifiedTokens::default();
        cache.insert(digest(0), token(0));
        for n in 1..GENERATION * 3 {
            cache.insert(digest(n), token(n));
            // Token 0 is used all along, so it survives every generation change.
            assert_eq!(cache.get(&digest(0)).unwrap().kid, "kid-0");
            assert!(cache.len() <= 2 * GENERATION + 1);
        }
        assert!(cache.get(&digest(1)).is_none(), "unused tokens age out");
        assert!(cache.get(&digest(GENERATION * 3 - 1)).is_some());
    }
}
