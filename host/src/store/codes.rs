//! Random codes: session codes, participant codes (a participant's only credential) and
//! tokens; and the SHA-256 digests tokens are kept as and packages are named by.

use rand::Rng;
use sha2::{Digest, Sha256};

/// `n` random characters from `[a-z0-9]`: 16 of them carry 82 bits.
pub fn random_code(n: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..n).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

/// Hex SHA-256 of `bytes` (lowercase): a token's stored digest, an upload's version, a
/// component's or template's hash in a session's provenance.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
