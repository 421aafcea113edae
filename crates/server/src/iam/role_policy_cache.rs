//! The parsed policies of each role, for access decisions (every S3 request and every
//! `/_idpool/authorize` call). Without it each decision read the role and each
//! attached policy from the store and parsed every document again.
//!
//! A cache only, so stateless nodes stay stateless: an IAM change made through this
//! node empties it at once; one made through another node reaches this node within
//! `TTL`, the kind of delay AWS documents for IAM ("changes are eventually
//! consistent", typically seconds).

use idpool_core::policy::Policy;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

const TTL: Duration = Duration::from_secs(5);
/// Roles are few; the bound only keeps a flood of made-up role names from growing it.
const MAX_ROLES: usize = 10_000;

/// A role's ARN and its policies (inline, then attached); None: no such role.
pub type RolePolicies = Option<(String, Arc<Vec<Policy>>)>;

struct Entry {
    policies: RolePolicies,
    loaded: Instant,
}

#[derive(Default)]
pub struct RolePolicyCache {
    roles: RwLock<HashMap<String, Entry>>,
    /// Bumped by every IAM change on this node, so a load that raced a change is not
    /// cached.
    generation: AtomicU64,
}

impl RolePolicyCache {
    /// The role's policies when loaded less than `TTL` ago.
    pub fn get(&self, role_key: &str) -> Option<RolePolicies> {
        let roles = self.roles.read().expect("lock");
        let entry = roles.get(role_key)?;
        (entry.loaded.elapsed() < TTL).then(|| entry.policies.clone())
    }

    /// The generation to pass to `put` for a load starting now.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Keeps what a load that started at `generation` found, unless IAM changed since.
    pub fn put(&self, role_key: &str, generation: u64, policies: RolePolicies) {
        let mut roles = self.roles.write().expect("lock");
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if roles.len() >= MAX_ROLES {
            roles.retain(|_, e| e.loaded.elapsed() < TTL);
            if roles.len() >= MAX_ROLES {
                roles.clear();
            }
        }
        roles.insert(
            role_key.to_string(),
            Entry {
                policies,
                loaded: Instant::now(),
            },
        );
    }

    /// Forgets everything: IAM changed on this node (or the dev reset wiped it).
    pub fn invalidate(&self) {
        let mut roles = self.roles.write().expect("lock");
        self.generation.fetch_add(1, Ordering::AcqRel);
        roles.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_load_that_raced_a_change_is_not_kept() {
        let cache = RolePolicyCache::default();
        let before = cache.generation();
        cache.invalidate();
        cache.put("r", before, Some(("arn:r".into(), Arc::new(vec![]))));
        assert!(cache.get("r").is_none());
        cache.put("r", cache.generation(), None);
        assert!(matches!(cache.get("r"), Some(None)));
        cache.invalidate();
        assert!(cache.get("r").is_none());
    }
}
