//! Modular exponentiation over a fixed odd modulus, with aws-lc's
//! `BN_mod_exp_mont_consttime`.
//!
//! Why this crate exists: a password sign-in costs one 3072-bit exponentiation with a
//! secret exponent (the verifier g^x), an SRP sign-in three. crypto-bigint's constant-time
//! `pow` takes about 1.35 ms each on our 2-core machine, aws-lc's assembly about 0.6 ms,
//! and that difference was most of the distance between idpool's SRP throughput and its
//! target. aws-lc is already our one crypto library (aws-lc-rs links this same
//! aws-lc-sys), so this adds no new C code, only the FFI calls below. The workspace
//! forbids `unsafe`; this crate is the one place it lives, behind a safe API that owns
//! every pointer.

use aws_lc_sys as sys;
use std::ptr::NonNull;

/// Why an exponentiation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModexpError {
    /// The base was not below the modulus. aws-lc's constant-time path requires a reduced
    /// base, and every base idpool raises is a residue, so anything else is bad input.
    NotReduced,
}

impl std::fmt::Display for ModexpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModexpError::NotReduced => f.write_str("base is not reduced modulo the modulus"),
        }
    }
}

impl std::error::Error for ModexpError {}

/// An owned BIGNUM. Dropping it clears its words, since it may hold a secret exponent.
struct Bignum(NonNull<sys::BIGNUM>);

impl Bignum {
    fn zero() -> Bignum {
        // SAFETY: BN_new has no preconditions; it returns null only when out of memory.
        let ptr = unsafe { sys::BN_new() };
        Bignum(NonNull::new(ptr).expect("BN_new: out of memory"))
    }

    fn from_be_bytes(bytes: &[u8]) -> Bignum {
        let bn = Bignum::zero();
        // SAFETY: `bytes` is readable for `bytes.len()` bytes and `bn` is a live BIGNUM we
        // own; BN_bin2bn writes into it and returns it, or null when out of memory.
        let ret = unsafe { sys::BN_bin2bn(bytes.as_ptr(), bytes.len(), bn.as_mut_ptr()) };
        assert!(!ret.is_null(), "BN_bin2bn: out of memory");
        bn
    }

    /// Big-endian, left-padded with zeros to exactly `len` bytes; None if it is wider.
    fn to_be_bytes_padded(&self, len: usize) -> Option<Vec<u8>> {
        let mut out = vec![0u8; len];
        // SAFETY: `out` is writable for `len` bytes and `self` is a live BIGNUM. The call
        // returns 0, writing nothing we rely on, when the value needs more than `len` bytes.
        let ok = unsafe { sys::BN_bn2bin_padded(out.as_mut_ptr(), len, self.as_ptr()) };
        (ok == 1).then_some(out)
    }

    fn as_ptr(&self) -> *const sys::BIGNUM {
        self.0.as_ptr()
    }

    fn as_mut_ptr(&self) -> *mut sys::BIGNUM {
        self.0.as_ptr()
    }
}

impl Drop for Bignum {
    fn drop(&mut self) {
        // SAFETY: we own the BIGNUM and nothing else holds the pointer.
        unsafe { sys::BN_clear_free(self.0.as_ptr()) }
    }
}

/// Scratch space for one computation; never shared between threads.
struct Scratch(NonNull<sys::BN_CTX>);

impl Scratch {
    fn new() -> Scratch {
        // SAFETY: BN_CTX_new has no preconditions; null means out of memory.
        let ptr = unsafe { sys::BN_CTX_new() };
        Scratch(NonNull::new(ptr).expect("BN_CTX_new: out of memory"))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // SAFETY: we own the BN_CTX and nothing else holds the pointer.
        unsafe { sys::BN_CTX_free(self.0.as_ptr()) }
    }
}

/// An odd modulus with its Montgomery constants, computed once and then shared.
pub struct Modulus {
    n: Bignum,
    mont: NonNull<sys::BN_MONT_CTX>,
    byte_len: usize,
}

// SAFETY: after `Modulus::new` returns, `n` and `mont` are only ever passed to aws-lc as
// `const` pointers (BN_ucmp, BN_mod_exp_mont_consttime), which read them without
// mutation; aws-lc documents a BN_MONT_CTX as safe for concurrent use in that way.
unsafe impl Send for Modulus {}
// SAFETY: as for Send: shared references only lead to reads.
unsafe impl Sync for Modulus {}

impl Modulus {
    /// The modulus given big-endian; None unless it is odd and greater than one.
    pub fn new(n_be: &[u8]) -> Option<Modulus> {
        let first = n_be.iter().position(|b| *b != 0)?;
        let significant = &n_be[first..];
        let odd = significant.last().is_some_and(|b| b & 1 == 1);
        if !odd || significant == [1] {
            return None;
        }
        let n = Bignum::from_be_bytes(significant);
        let scratch = Scratch::new();
        // SAFETY: `n` is a live odd BIGNUM greater than one and `scratch` a live BN_CTX;
        // the call returns a new BN_MONT_CTX we own, or null when out of memory.
        let mont = unsafe { sys::BN_MONT_CTX_new_consttime(n.as_ptr(), scratch.0.as_ptr()) };
        Some(Modulus {
            n,
            mont: NonNull::new(mont).expect("BN_MONT_CTX_new_consttime: out of memory"),
            byte_len: significant.len(),
        })
    }

    /// Bytes in the modulus, and in every result of [`Modulus::pow`].
    pub fn byte_len(&self) -> usize {
        self.byte_len
    }

    /// base^exponent mod n, both given big-endian, the result big-endian and padded to
    /// [`Modulus::byte_len`]. The running time does not depend on the exponent's value,
    /// only on its length in bytes, so it is safe for secret exponents.
    pub fn pow(&self, base: &[u8], exponent: &[u8]) -> Result<Vec<u8>, ModexpError> {
        let base = Bignum::from_be_bytes(base);
        // SAFETY: both are live BIGNUMs.
        if unsafe { sys::BN_ucmp(base.as_ptr(), self.n.as_ptr()) } >= 0 {
            return Err(ModexpError::NotReduced);
        }
        let exponent = Bignum::from_be_bytes(exponent);
        let result = Bignum::zero();
        let scratch = Scratch::new();
        // SAFETY: every pointer is live for the call; `result` is ours to write and the
        // others are read only. `base` < n and n is odd, the function's preconditions.
        let ok = unsafe {
            sys::BN_mod_exp_mont_consttime(
                result.as_mut_ptr(),
                base.as_ptr(),
                exponent.as_ptr(),
                self.n.as_ptr(),
                scratch.0.as_ptr(),
                self.mont.as_ptr(),
            )
        };
        assert!(ok == 1, "BN_mod_exp_mont_consttime failed on reduced input");
        Ok(result
            .to_be_bytes_padded(self.byte_len)
            .expect("a residue fits the modulus width"))
    }
}

impl Drop for Modulus {
    fn drop(&mut self) {
        // SAFETY: we own the BN_MONT_CTX and nothing else holds the pointer.
        unsafe { sys::BN_MONT_CTX_free(self.mont.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_bigint::BigUint;

    /// RFC 3526's 3072-bit group, the modulus of Cognito's SRP.
    const N_3072: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF";

    fn n_bytes() -> Vec<u8> {
        (0..N_3072.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&N_3072[i..i + 2], 16).unwrap())
            .collect()
    }

    /// A deterministic byte stream (xorshift), so failures reproduce.
    fn bytes(seed: &mut u64, len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                *seed as u8
            })
            .collect()
    }

    #[test]
    fn agrees_with_num_bigint_on_the_srp_group() {
        let n = n_bytes();
        let modulus = Modulus::new(&n).unwrap();
        assert_eq!(modulus.byte_len(), 384);
        let big_n = BigUint::from_bytes_be(&n);
        let mut seed = 0x9E37_79B9_7F4A_7C15;
        for exponent_len in [1, 32, 72, 384] {
            let base = BigUint::from_bytes_be(&bytes(&mut seed, 384)) % &big_n;
            let exponent = bytes(&mut seed, exponent_len);
            let want = base.modpow(&BigUint::from_bytes_be(&exponent), &big_n);
            let got = modulus.pow(&base.to_bytes_be(), &exponent).unwrap();
            assert_eq!(got.len(), 384);
            assert_eq!(
                BigUint::from_bytes_be(&got),
                want,
                "exponent of {exponent_len} bytes"
            );
        }
        let two = modulus.pow(&[2], &[]).unwrap();
        assert_eq!(BigUint::from_bytes_be(&two), BigUint::from(1u8), "x^0 = 1");
    }

    #[test]
    fn refuses_unreduced_bases_and_bad_moduli() {
        let n = n_bytes();
        let modulus = Modulus::new(&n).unwrap();
        assert_eq!(modulus.pow(&n, &[3]), Err(ModexpError::NotReduced));
        let mut above = vec![1u8];
        above.extend_from_slice(&n);
        assert_eq!(modulus.pow(&above, &[3]), Err(ModexpError::NotReduced));
        assert!(Modulus::new(&[0x10]).is_none(), "even");
        assert!(Modulus::new(&[0, 1]).is_none(), "one");
        assert!(Modulus::new(&[0, 0]).is_none(), "zero");
        assert!(Modulus::new(&[]).is_none(), "empty");
        let small = Modulus::new(&[0, 0, 101]).unwrap();
        assert_eq!(small.byte_len(), 1);
        assert_eq!(small.pow(&[3], &[4]).unwrap(), vec![81]);
    }

    #[test]
    fn is_shared_across_threads() {
        let modulus = std::sync::Arc::new(Modulus::new(&n_bytes()).unwrap());
        let first = modulus.pow(&[2], &[0xff; 32]).unwrap();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let modulus = modulus.clone();
                std::thread::spawn(move || modulus.pow(&[2], &[0xff; 32]).unwrap())
            })
            .collect();
        for handle in handles {
            assert_eq!(handle.join().unwrap(), first);
        }
    }
}
