//! Random codes: session codes, participant codes (a participant's only credential) and
//! tokens.

use rand::Rng;

/// `n` random characters from `[a-z0-9]`: 16 of them carry 82 bits.
pub fn random_code(n: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..n).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}
