//! Cognito's SRP-6a variant: the 3072-bit group of RFC 3526, g = 2, SHA-256, and
//! Cognito's own encodings (padHex, x from poolName|username|":"|password). The verifier
//! computed here is what USER_SRP_AUTH will check against, so password users never need
//! re-hashing when SRP sign-in arrives.
//!
//! Server secrets (the verifier, the ephemeral b) only meet constant-time arithmetic:
//! exponentiations run in aws-lc's `BN_mod_exp_mont_consttime` (idpool-modexp, about
//! twice as fast as crypto-bigint's), products and sums in crypto-bigint's Montgomery
//! form; never num-bigint's variable-time modpow.

use aws_lc_rs::digest::{SHA256, digest};
use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, Odd};
use idpool_modexp::Modulus;
use std::sync::OnceLock;

/// RFC 3526 section 4, the 3072-bit MODP group, as amazon-cognito-identity-js has it.
pub const N_HEX: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF";
pub const N_BITS: u32 = 3072;

struct Group {
    params: BoxedMontyParams,
    n: BoxedUint,
    /// N for aws-lc's exponentiation; the base g = 2 is passed as the byte [2].
    modulus: Modulus,
    /// k = H(padHex(N) | padHex(g)), in Montgomery form.
    k: BoxedMontyForm,
}

fn group() -> &'static Group {
    static GROUP: OnceLock<Group> = OnceLock::new();
    GROUP.get_or_init(|| {
        let n_bytes = hex::decode(N_HEX).expect("N_HEX is hex");
        let n = BoxedUint::from_be_slice(&n_bytes, N_BITS).expect("N fits 3072 bits");
        let params = BoxedMontyParams::new(Odd::new(n.clone()).expect("N is odd"));
        let modulus = Modulus::new(&n_bytes).expect("N is odd");
        let mut kin = pad(&n_bytes);
        kin.extend_from_slice(&pad(&[2]));
        let k = BoxedMontyForm::new(
            BoxedUint::from_be_slice(digest(&SHA256, &kin).as_ref(), N_BITS).expect("k fits"),
            &params,
        );
        Group {
            params,
            n,
            modulus,
            k,
        }
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

/// The SRP "pool name" of a pool: the part of its id after '_'.
pub fn pool_name(pool_id: &str) -> &str {
    pool_id.split_once('_').map(|(_, n)| n).unwrap_or(pool_id)
}

/// x = SHA256(padHex(salt) | SHA256(poolName | username | ":" | password)), where
/// poolName is the part of the pool id after '_' and username is USER_ID_FOR_SRP.
pub fn private_key_x(pool_id: &str, username: &str, password: &str, salt: &[u8]) -> [u8; 32] {
    realm_private_key_x(pool_name(pool_id), username, password, salt)
}

/// x with an explicit realm: the pool name for users, the device group key for
/// remembered devices (whose "username" is the device key).
pub fn realm_private_key_x(realm: &str, username: &str, password: &str, salt: &[u8]) -> [u8; 32] {
    let inner = digest(&SHA256, format!("{realm}{username}:{password}").as_bytes());
    let mut outer = pad(salt);
    outer.extend_from_slice(inner.as_ref());
    let mut x = [0u8; 32];
    x.copy_from_slice(digest(&SHA256, &outer).as_ref());
    x
}

/// v = g^x mod N, as a 384-byte big-endian value.
pub fn verifier(x: &[u8; 32]) -> Vec<u8> {
    g_pow(x)
}

/// g^e mod N, 384 bytes big-endian, in time independent of e's value.
fn g_pow(exponent: &[u8]) -> Vec<u8> {
    group().modulus.pow(&[G], exponent).expect("g < N")
}

const G: u8 = 2;

/// The server's half of one SRP exchange: the secret exponent b and the public
/// B = k*v + g^b mod N that goes to the client as SRP_B.
pub struct ServerEphemeral {
    pub b: Vec<u8>,
    pub big_b: Vec<u8>,
}

/// Why a client's SRP values were refused before any password check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SrpError {
    /// A mod N == 0 would let a client force S = 0 without knowing the password.
    InvalidA,
    /// u == 0 would make S independent of the verifier.
    InvalidU,
    /// The verifier or secret could not be read.
    Malformed,
}

fn uint(bytes: &[u8]) -> Result<BoxedUint, SrpError> {
    // Clients send padHex'd values: a leading zero byte is not part of the number.
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    let bytes = &bytes[first..];
    if bytes.len() > (N_BITS / 8) as usize {
        return Err(SrpError::Malformed);
    }
    BoxedUint::from_be_slice(bytes, N_BITS).map_err(|_| SrpError::Malformed)
}

fn to_bytes(v: &BoxedMontyForm) -> Vec<u8> {
    v.retrieve().to_be_bytes().to_vec()
}

/// Picks b (256 random bits, RFC 5054's minimum) and computes B = k*v + g^b mod N.
pub fn server_ephemeral(verifier: &[u8]) -> Result<ServerEphemeral, SrpError> {
    let g = group();
    let v = BoxedMontyForm::new(uint(verifier)?, &g.params);
    loop {
        let b = crate::crypto::random_bytes(32);
        let gb = BoxedMontyForm::new(uint(&g_pow(&b))?, &g.params);
        let big_b = &(&g.k * &v) + &gb;
        if bool::from(big_b.is_nonzero()) {
            return Ok(ServerEphemeral {
                b,
                big_b: to_bytes(&big_b),
            });
        }
    }
}

/// The 16-byte key both sides derive: S = (A * v^u)^b mod N, u = H(padHex(A) | padHex(B)),
/// K = HKDF-SHA256(ikm = padHex(S), salt = padHex(u), info = "Caldera Derived Key").
pub fn server_session_key(
    big_a: &[u8],
    big_b: &[u8],
    b: &[u8],
    verifier: &[u8],
) -> Result<[u8; 16], SrpError> {
    let g = group();
    let a = uint(big_a)?;
    let n = crypto_bigint::NonZero::new(g.n.clone()).expect("N is not zero");
    let a_mod_n = a.rem(&n);
    if bool::from(a_mod_n.is_zero()) {
        return Err(SrpError::InvalidA);
    }
    let mut uin = pad(big_a);
    uin.extend_from_slice(&pad(big_b));
    let u_hash = digest(&SHA256, &uin);
    let u_bytes = u_hash.as_ref();
    if u_bytes.iter().all(|x| *x == 0) {
        return Err(SrpError::InvalidU);
    }
    let v_pow_u = g
        .modulus
        .pow(verifier, u_bytes)
        .map_err(|_| SrpError::Malformed)?;
    let a = BoxedMontyForm::new(a_mod_n, &g.params);
    let base = &a * &BoxedMontyForm::new(uint(&v_pow_u)?, &g.params);
    let s = g
        .modulus
        .pow(&to_bytes(&base), b)
        .map_err(|_| SrpError::Malformed)?;
    Ok(hkdf_caldera(&pad(&s), &pad(u_bytes)))
}

fn hkdf_caldera(ikm: &[u8], salt: &[u8]) -> [u8; 16] {
    let prk = crate::crypto::hmac_sha256(salt, ikm);
    let okm = crate::crypto::hmac_sha256(&prk, b"Caldera Derived Key\x01");
    let mut key = [0u8; 16];
    key.copy_from_slice(&okm[..16]);
    key
}

/// PASSWORD_CLAIM_SIGNATURE: HMAC-SHA256(K, realm | username | SECRET_BLOCK bytes | TIMESTAMP).
pub fn claim_signature(
    key: &[u8; 16],
    realm: &str,
    username: &str,
    secret_block: &[u8],
    timestamp: &str,
) -> Vec<u8> {
    let mut msg = Vec::with_capacity(realm.len() + username.len() + secret_block.len() + 32);
    msg.extend_from_slice(realm.as_bytes());
    msg.extend_from_slice(username.as_bytes());
    msg.extend_from_slice(secret_block);
    msg.extend_from_slice(timestamp.as_bytes());
    crate::crypto::hmac_sha256(key, &msg)
}

/// Parses the client's TIMESTAMP, `EEE MMM d HH:mm:ss UTC yyyy` (the day unpadded, as
/// amazon-cognito-identity-js and pycognito write it; a padded day is accepted too),
/// into Unix seconds.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let parts: Vec<&str> = s.split(' ').filter(|p| !p.is_empty()).collect();
    let [_weekday, month, day, time, "UTC", year] = parts.as_slice() else {
        return None;
    };
    let month = MONTHS.iter().position(|m| m == month)? as i64 + 1;
    let day: i64 = day.parse().ok()?;
    let year: i64 = year.parse().ok()?;
    let hms: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, sec] = hms.as_slice() else {
        return None;
    };
    if !(1..=31).contains(&day) || *h > 23 || *m > 59 || *sec > 60 {
        return None;
    }
    Some(idpool_wire::sigv4::days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + sec)
}

/// The client's TIMESTAMP for Unix seconds `secs`, as amazon-cognito-identity-js writes
/// it (day of month unpadded).
pub fn format_timestamp(secs: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs.div_euclid(86_400);
    let (y, m, d) = idpool_wire::sigv4::civil_from_days(days);
    let t = secs.rem_euclid(86_400);
    format!(
        "{} {} {d} {:02}:{:02}:{:02} UTC {y}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        t / 3600,
        t % 3600 / 60,
        t % 60,
    )
}

/// The client side of the exchange, as amazon-cognito-identity-js computes it. Used by
/// our own tests and the SRP load generator; the server never runs it.
pub mod client {
    use super::*;

    pub struct ClientEphemeral {
        pub a: Vec<u8>,
        pub big_a: Vec<u8>,
    }

    pub fn ephemeral() -> ClientEphemeral {
        let a = crate::crypto::random_bytes(32);
        ClientEphemeral {
            big_a: g_pow(&a),
            a,
        }
    }

    /// A user's password-derived values, computed once per salt: x and k*g^x.
    pub struct ClientSecret {
        x: [u8; 32],
        kgx: BoxedMontyForm,
    }

    impl ClientSecret {
        pub fn new(x: [u8; 32]) -> ClientSecret {
            let g = group();
            let gx = BoxedMontyForm::new(uint(&g_pow(&x)).expect("g^x"), &g.params);
            ClientSecret { x, kgx: &g.k * &gx }
        }
    }

    /// K from the client's view: S = (B - k*g^x)^(a + u*x) mod N.
    pub fn session_key(eph: &ClientEphemeral, big_b: &[u8], secret: &ClientSecret) -> [u8; 16] {
        let g = group();
        let mut uin = pad(&eph.big_a);
        uin.extend_from_slice(&pad(big_b));
        let u_hash = digest(&SHA256, &uin);
        // a (256 bits) + u*x (512 bits) fits 576 bits, a whole number of limbs.
        let wide = 576;
        let u = BoxedUint::from_be_slice(u_hash.as_ref(), wide).expect("u");
        let xi = BoxedUint::from_be_slice(&secret.x, wide).expect("x");
        let a = BoxedUint::from_be_slice(&eph.a, wide).expect("a");
        let exponent = a.wrapping_add(u.wrapping_mul(&xi));
        let bm = BoxedMontyForm::new(uint(big_b).expect("B"), &g.params);
        let base = to_bytes(&(&bm - &secret.kgx));
        let s = g
            .modulus
            .pow(&base, &exponent.to_be_bytes())
            .expect("a residue");
        hkdf_caldera(&pad(&s), &pad(u_hash.as_ref()))
    }
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
    fn client_and_server_derive_the_same_key() {
        let salt = [0x9au8; 16];
        let x = private_key_x("us-east-1_AbC123", "alice", "Passw0rd!", &salt);
        let v = verifier(&x);
        let server = server_ephemeral(&v).unwrap();
        let client = client::ephemeral();
        let k_server = server_session_key(&client.big_a, &server.big_b, &server.b, &v).unwrap();
        let k_client = client::session_key(&client, &server.big_b, &client::ClientSecret::new(x));
        assert_eq!(k_server, k_client);
        let wrong = private_key_x("us-east-1_AbC123", "alice", "Passw0rd?", &salt);
        let wrong = client::ClientSecret::new(wrong);
        assert_ne!(
            client::session_key(&client, &server.big_b, &wrong),
            k_server
        );
    }

    #[test]
    fn a_multiple_of_n_is_refused() {
        let v = verifier(&[1u8; 32]);
        let server = server_ephemeral(&v).unwrap();
        let n = hex::decode(N_HEX).unwrap();
        assert_eq!(
            server_session_key(&n, &server.big_b, &server.b, &v),
            Err(SrpError::InvalidA)
        );
        assert_eq!(
            server_session_key(&[0], &server.big_b, &server.b, &v),
            Err(SrpError::InvalidA)
        );
        assert_eq!(
            server_session_key(&[1u8; 400], &server.big_b, &server.b, &v),
            Err(SrpError::Malformed)
        );
    }

    #[test]
    fn timestamps_in_cognito_format() {
        // 2026-11-23 09:05:03 UTC
        let t = parse_timestamp("Mon Nov 23 09:05:03 UTC 2026").unwrap();
        assert_eq!(parse_timestamp("Mon Nov 23 9:05:03 UTC 2026"), Some(t));
        assert_eq!(t, 1_795_424_703);
        assert_eq!(
            parse_timestamp("Mon Nov 3 9:05:03 UTC 2026"),
            Some(t - 20 * 86_400)
        );
        assert_eq!(parse_timestamp("Mon Nov 23 09:05:03 GMT 2026"), None);
        assert_eq!(format_timestamp(t), "Mon Nov 23 09:05:03 UTC 2026");
        assert_eq!(format_timestamp(0), "Thu Jan 1 00:00:00 UTC 1970");
        assert_eq!(parse_timestamp("garbage"), None);
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
