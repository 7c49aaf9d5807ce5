//! `Digest`: a content address (`algorithm:hex`), validated on parse and computed with sha2.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256, Sha384, Sha512};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Why a string is not a valid digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    /// No `:` between algorithm and hex.
    #[error("invalid digest {0:?}: expected ALGORITHM:HEX")]
    Format(String),
    /// The algorithm component is not `[a-z0-9]+([+._-][a-z0-9]+)*`.
    #[error("invalid digest {0:?}: bad algorithm")]
    Algorithm(String),
    /// The hex part has the wrong length or characters for its algorithm.
    #[error("invalid digest {digest:?}: {algorithm} needs {expected} lowercase hex characters")]
    Hex {
        /// The digest as given.
        digest: String,
        /// Its algorithm.
        algorithm: String,
        /// The number of hex characters that algorithm needs.
        expected: usize,
    },
    /// The encoded part of a digest with another algorithm is not `[a-zA-Z0-9=_-]+`.
    #[error("invalid digest {0:?}: the encoded part must be [a-zA-Z0-9=_-]+")]
    Encoded(String),
}

/// A content digest such as `sha256:0123...`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest {
    algorithm: String,
    hex: String,
}

impl Digest {
    /// Parse and validate `algorithm:encoded` as the OCI image spec defines it; for sha256, sha384
    /// and sha512 the encoded part must be lowercase hex of the exact length.
    pub fn parse(s: &str) -> Result<Self, DigestError> {
        let (algorithm, hex) = s.split_once(':').ok_or_else(|| DigestError::Format(s.to_string()))?;
        let alg_ok = !algorithm.is_empty()
            && algorithm
                .split(['+', '.', '_', '-'])
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        if !alg_ok {
            return Err(DigestError::Algorithm(s.to_string()));
        }
        match hex_length(algorithm) {
            Some(expected) => {
                if hex.len() != expected || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                    return Err(DigestError::Hex { digest: s.to_string(), algorithm: algorithm.to_string(), expected });
                }
            }
            None => {
                let ok = !hex.is_empty()
                    && hex.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'=' || b == b'_' || b == b'-');
                if !ok {
                    return Err(DigestError::Encoded(s.to_string()));
                }
            }
        }
        Ok(Self { algorithm: algorithm.to_string(), hex: hex.to_string() })
    }

    /// The sha256 digest of `bytes`.
    pub fn sha256(bytes: &[u8]) -> Self {
        Self { algorithm: "sha256".into(), hex: hex::encode(Sha256::digest(bytes)) }
    }

    /// The sha384 digest of `bytes`.
    pub fn sha384(bytes: &[u8]) -> Self {
        Self { algorithm: "sha384".into(), hex: hex::encode(Sha384::digest(bytes)) }
    }

    /// The sha512 digest of `bytes`.
    pub fn sha512(bytes: &[u8]) -> Self {
        Self { algorithm: "sha512".into(), hex: hex::encode(Sha512::digest(bytes)) }
    }

    /// The sha256 digest of everything `reader` yields, and the number of bytes read.
    pub async fn sha256_of_reader<R: AsyncRead + Unpin>(mut reader: R) -> std::io::Result<(Self, u64)> {
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            let n = reader.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            total += n as u64;
            hasher.update(&buf[..n]);
        }
        Ok((Self { algorithm: "sha256".into(), hex: hex::encode(hasher.finalize()) }, total))
    }

    /// The algorithm, e.g. `sha256`.
    pub fn algorithm(&self) -> &str {
        &self.algorithm
    }

    /// The hex-encoded value.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// Whether `bytes` hash to this digest (sha256, sha384 and sha512 are checked; others never match).
    pub fn matches(&self, bytes: &[u8]) -> bool {
        match self.algorithm.as_str() {
            "sha256" => *self == Self::sha256(bytes),
            "sha384" => *self == Self::sha384(bytes),
            "sha512" => *self == Self::sha512(bytes),
            _ => false,
        }
    }
}

/// The hex length of a registered algorithm's digest, `None` for others.
fn hex_length(algorithm: &str) -> Option<usize> {
    match algorithm {
        "sha256" => Some(64),
        "sha384" => Some(96),
        "sha512" => Some(128),
        _ => None,
    }
}

/// An incremental sha256 hasher that yields a [`Digest`]; for streams checked as they pass.
#[derive(Default, Clone)]
pub struct Sha256Hasher(Sha256);

impl Sha256Hasher {
    /// A fresh hasher.
    pub fn new() -> Self {
        Self::default()
    }
    /// Feed bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    /// The digest of all bytes fed so far.
    pub fn finish(self) -> Digest {
        Digest { algorithm: "sha256".into(), hex: hex::encode(self.0.finalize()) }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Digest {
    type Error = DigestError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> Self {
        d.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computes_and_round_trips() {
        let d = Digest::sha256(b"hello");
        assert_eq!(d.to_string(), "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
        assert_eq!(Digest::parse(&d.to_string()).unwrap(), d);
        assert!(d.matches(b"hello"));
        assert!(!d.matches(b"hellO"));
        assert!(Digest::sha384(b"hello").matches(b"hello"));
        assert!(Digest::sha512(b"hello").matches(b"hello"));
        assert_eq!(Digest::sha512(b"hello").hex().len(), 128);
    }

    #[test]
    fn rejects_bad_lengths_and_case() {
        assert!(matches!(Digest::parse("sha256:abc"), Err(DigestError::Hex { .. })));
        assert!(Digest::parse(&format!("sha256:{}", "A".repeat(64))).is_err());
        assert!(matches!(Digest::parse("nocolon"), Err(DigestError::Format(_))));
        assert!(matches!(Digest::parse("SHA256:00"), Err(DigestError::Algorithm(_))));
        assert!(matches!(
            Digest::parse(&format!("sha384:{}", "a".repeat(64))),
            Err(DigestError::Hex { expected: 96, .. })
        ));
        assert!(matches!(
            Digest::parse(&format!("sha512:{}", "a".repeat(64))),
            Err(DigestError::Hex { expected: 128, .. })
        ));
        assert!(Digest::parse(&format!("sha512:{}", "a".repeat(128))).is_ok());
        assert!(Digest::parse("blake3:abc=").is_ok());
        assert!(matches!(Digest::parse("blake3:a/b"), Err(DigestError::Encoded(_))));
        assert!(matches!(Digest::parse("a+:x"), Err(DigestError::Algorithm(_))));
    }

    #[tokio::test]
    async fn streams() {
        let (d, n) = Digest::sha256_of_reader(&b"hello"[..]).await.unwrap();
        assert_eq!(d, Digest::sha256(b"hello"));
        assert_eq!(n, 5);
    }
}
