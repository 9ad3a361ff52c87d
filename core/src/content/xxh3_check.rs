//! Checking a body against the xxh3 hash the cache records for reads, without ssri's
//! machinery: its `IntegrityChecker` builds a vector of hashers, boxes the state, and at the
//! end base64-encodes the result into a fresh `Integrity` and compares strings (six
//! allocations per check, which is per hit). Here the wanted digest is decoded once, a body
//! that arrives in one piece (most hits) is hashed in one shot with no state at all, and
//! others use one boxed state; the outcome is the same `Result` ssri gives.

use base64::prelude::{Engine, BASE64_STANDARD};
use ssri::{Algorithm, Hash, Integrity};
use xxhash_rust::xxh3::{xxh3_128, Xxh3};

pub struct Xxh3Check {
    want: u128,
    /// The body's size when known: an input of exactly that many bytes, first, is the whole.
    size: Option<u64>,
    hashed: Hashed,
}

enum Hashed {
    Nothing,
    /// The whole body, hashed in one shot.
    Whole(u128),
    /// Pieces so far.
    Pieces(Box<Xxh3>),
    /// More input after the whole body: whatever it is, it is not the body.
    Overrun(u128),
}

impl Xxh3Check {
    /// A check of `integrity`, if ssri would check it with xxh3 against exactly one digest
    /// that decodes (what the cache writes); otherwise None, and ssri does the check.
    /// `size`, if given, is the body's length in bytes.
    pub fn new(integrity: &Integrity, size: Option<u64>) -> Option<Xxh3Check> {
        let want = match integrity.hashes.as_slice() {
            [hash] if hash.algorithm == Algorithm::Xxh3 => decode(&hash.digest)?,
            _ => return None,
        };
        Some(Xxh3Check {
            want,
            size,
            hashed: Hashed::Nothing,
        })
    }

    pub fn input(&mut self, bytes: &[u8]) {
        self.hashed = match std::mem::replace(&mut self.hashed, Hashed::Nothing) {
            Hashed::Nothing if self.size == Some(bytes.len() as u64) => {
                Hashed::Whole(xxh3_128(bytes))
            }
            Hashed::Nothing => {
                let mut state = Box::new(Xxh3::new());
                state.update(bytes);
                Hashed::Pieces(state)
            }
            Hashed::Pieces(mut state) => {
                state.update(bytes);
                Hashed::Pieces(state)
            }
            Hashed::Whole(digest) if bytes.is_empty() => Hashed::Whole(digest),
            Hashed::Whole(digest) | Hashed::Overrun(digest) => Hashed::Overrun(digest),
        };
    }

    /// `Ok(Xxh3)` if the bytes match, else ssri's `IntegrityCheckError` (wanted, found).
    pub fn finish(self) -> Result<Algorithm, ssri::Error> {
        let got = match self.hashed {
            Hashed::Nothing => xxh3_128(&[]),
            Hashed::Whole(digest) => digest,
            Hashed::Pieces(state) => state.digest128(),
            Hashed::Overrun(digest) => {
                // More bytes than the body has (a caller's bug, not something a reader does):
                // never a match. Reported with the digest of the first `size` bytes.
                return Err(ssri::Error::IntegrityCheckError(
                    integrity_of(self.want),
                    integrity_of(digest),
                ));
            }
        };
        if got == self.want {
            return Ok(Algorithm::Xxh3);
        }
        Err(ssri::Error::IntegrityCheckError(
            integrity_of(self.want),
            integrity_of(got),
        ))
    }
}

/// The integrity of one xxh3 digest, as ssri builds it. For a wanted digest this gives back
/// the integrity it was decoded from: the decoder refuses non-canonical base64.
fn integrity_of(digest: u128) -> Integrity {
    Integrity {
        hashes: vec![Hash {
            algorithm: Algorithm::Xxh3,
            digest: BASE64_STANDARD.encode(digest.to_be_bytes()),
        }],
    }
}

/// A 128-bit xxh3 digest as ssri encodes it (base64 of the big-endian bytes).
fn decode(digest: &str) -> Option<u128> {
    let mut bytes = [0u8; 18];
    match BASE64_STANDARD.decode_slice(digest, &mut bytes) {
        Ok(16) => Some(u128::from_be_bytes(bytes[..16].try_into().ok()?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssri::{IntegrityChecker, IntegrityOpts};

    fn xxh3_of(data: &[u8]) -> Integrity {
        IntegrityOpts::new()
            .algorithm(Algorithm::Xxh3)
            .chain(data)
            .result()
    }

    /// Same verdict as ssri's checker, whole or in pieces, matching or not.
    #[test]
    fn agrees_with_ssri() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 253) as u8).collect();
        for len in [0, 1, 15, 240, 1024, 65536, 200_000] {
            let body = &data[..len];
            let integrity = xxh3_of(body);
            for tamper in [false, true] {
                let mut read = body.to_vec();
                if tamper {
                    read.push(1);
                }
                // Unsized in pieces; sized (the body's length) in pieces, then in one piece.
                let sized = Some(len as u64);
                for (size, piece) in [(None, 4000), (sized, 4000), (sized, usize::MAX)] {
                    let mut fast = Xxh3Check::new(&integrity, size).unwrap();
                    for piece in read.chunks(piece) {
                        fast.input(piece);
                    }
                    let ssri = IntegrityChecker::new(integrity.clone())
                        .chain(&read)
                        .result();
                    match (fast.finish(), ssri) {
                        (Ok(a), Ok(b)) => assert_eq!(a, b),
                        (
                            Err(ssri::Error::IntegrityCheckError(want_a, got_a)),
                            Err(ssri::Error::IntegrityCheckError(want_b, got_b)),
                        ) => {
                            assert_eq!(want_a, want_b);
                            assert_eq!(got_a, got_b);
                        }
                        (a, b) => panic!("len {len} tamper {tamper} {size:?}: {a:?} vs {b:?}"),
                    }
                }
            }
        }
    }

    /// A whole body, then more bytes: never a match.
    #[test]
    fn input_past_the_whole_body_never_matches() {
        let integrity = xxh3_of(b"body");
        let mut check = Xxh3Check::new(&integrity, Some(4)).unwrap();
        check.input(b"body");
        check.input(b"");
        assert!(check.finish().is_ok());
        let mut check = Xxh3Check::new(&integrity, Some(4)).unwrap();
        check.input(b"body");
        check.input(b"x");
        check.input(b"");
        assert!(check.finish().is_err());
    }

    #[test]
    fn other_integrities_are_left_to_ssri() {
        assert!(Xxh3Check::new(&Integrity::from(b"sha256 by default"), None).is_none());
        let two = xxh3_of(b"a").concat(xxh3_of(b"b"));
        assert!(Xxh3Check::new(&two, None).is_none());
        let forged: Integrity = "xxh3-AAAA".parse().unwrap();
        assert!(Xxh3Check::new(&forged, None).is_none());
    }
}
