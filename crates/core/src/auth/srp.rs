//! Cognito's SRP-6a variant: the 3072-bit group of RFC 3526, g = 2, SHA-256, and
//! Cognito's own encodings (padHex, x from poolName|username|":"|password). The verifier
//! computed here is what USER_SRP_AUTH will check against, so password users never need
//! re-hashing when SRP sign-in arrives.
//!
//! Server secrets (the verifier, later the ephemeral b) only meet constant-time
//! Montgomery exponentiation (crypto-bigint), never num-bigint's variable-time modpow.

use aws_lc_rs::digest::{SHA256, digest};
use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, Odd};
use std::sync::OnceLock;

/// RFC 3526 section 4, the 3072-bit MODP group, as amazon-cognito-identity-js has it.
pub const N_HEX: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF";
pub const N_BITS: u32 = 3072;

struct Group {
    g: BoxedMontyForm,
}

fn group() -> &'static Group {
    static GROUP: OnceLock<Group> = OnceLock::new();
    GROUP.get_or_init(|| {
        let n_bytes = hex::decode(N_HEX).expect("N_HEX is hex");
        let n = BoxedUint::from_be_slice(&n_bytes, N_BITS).expect("N fits 3072 bits");
        let params = BoxedMontyParams::new(Odd::new(n).expect("N is odd"));
        let g = BoxedMontyForm::new(
            BoxedUint::from_be_slice(&[2], N_BITS).expect("g fits"),
            &params,
        );
        Group { g }
    })
}

/// Cognito's padHex on bytes: the minimal big-endian encoding, with a leading 0x00 when
/// the top bit is set (so the value reads as positive). Not fixed-width padding.
pub fn pad(bytes: &[u8]) -> Vec<u8> {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    let trimmed = &bytes[first..];
    if trimmed.is_empty() {
        return vec![0];
    }
    let mut out = Vec::with_capacity(trimmed.len() + 1);
    if trimmed[0] & 0x80 != 0 {
        out.push(0);
    }
    out.extend_from_slice(trimmed);
    out
}

/// x = SHA256(padHex(salt) | SHA256(poolName | username | ":" | password)), where
/// poolName is the part of the pool id after '_' and username is USER_ID_FOR_SRP.
pub fn private_key_x(pool_id: &str, username: &str, password: &str, salt: &[u8]) -> [u8; 32] {
    let pool_name = pool_id.split_once('_').map(|(_, n)| n).unwrap_or(pool_id);
    let inner = digest(
        &SHA256,
        format!("{pool_name}{username}:{password}").as_bytes(),
    );
    let mut outer = pad(salt);
    outer.extend_from_slice(inner.as_ref());
    let mut x = [0u8; 32];
    x.copy_from_slice(digest(&SHA256, &outer).as_ref());
    x
}

/// v = g^x mod N, as a 384-byte big-endian value.
pub fn verifier(x: &[u8; 32]) -> Vec<u8> {
    let g = group();
    let exponent = BoxedUint::from_be_slice(x, 256).expect("32 bytes fit 256 bits");
    let v = g.g.pow(&exponent).retrieve();
    v.to_be_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_bigint::BigUint;

    #[test]
    fn verifier_matches_a_plain_modpow() {
        let x = private_key_x("us-east-1_AbC123", "alice", "Passw0rd!", &[0x9f, 1, 2, 3]);
        let n = BigUint::parse_bytes(N_HEX.as_bytes(), 16).unwrap();
        let expected = BigUint::from(2u8).modpow(&BigUint::from_bytes_be(&x), &n);
        assert_eq!(BigUint::from_bytes_be(&verifier(&x)), expected);
        assert_eq!(verifier(&x).len(), 384);
    }

    #[test]
    fn pad_follows_cognito_pad_hex() {
        assert_eq!(pad(&[0x7f, 1]), vec![0x7f, 1]);
        assert_eq!(pad(&[0x80, 1]), vec![0, 0x80, 1]);
        assert_eq!(pad(&[0, 0, 0x12]), vec![0x12]);
        assert_eq!(pad(&[0, 0x81]), vec![0, 0x81]);
    }

    #[test]
    fn x_uses_the_pool_name_after_the_underscore() {
        // pycognito: hash_sha256(pool_name + username + ":" + password), then with the salt.
        let inner = digest(&SHA256, b"AbC123alice:pw");
        let mut outer = vec![0x12, 0x34];
        outer.extend_from_slice(inner.as_ref());
        let expected = digest(&SHA256, &outer);
        assert_eq!(
            &private_key_x("us-east-1_AbC123", "alice", "pw", &[0x12, 0x34])[..],
            expected.as_ref()
        );
    }
}
