//! Storefront webhook signatures: `X-Shopify-Hmac-Sha256` is the base64
//! HMAC-SHA256 of the raw request body with the shared secret.
//!
//! The header is base64-decoded and compared with the computed MAC by
//! `Mac::verify_slice`, which compares in constant time (`subtle`); only the
//! length (public: always 32 bytes) can end the comparison early.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::Secret;

pub const HEADER: &str = "x-shopify-hmac-sha256";

type HmacSha256 = Hmac<Sha256>;

/// Why a signature was not accepted. The messages go to logs only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no webhook secret configured (SHOPIFY_WEBHOOK_SECRET)")]
    NotConfigured,
    #[error("signature header missing")]
    Missing,
    #[error("signature header is not base64")]
    Malformed,
    #[error("signature does not match the body")]
    Mismatch,
}

/// base64(HMAC-SHA256(body, secret)): what a storefront sends.
#[cfg(test)]
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(body);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Checks `header` (the raw header bytes, if present) against `body`.
pub fn verify(
    secret: Option<&Secret>,
    header: Option<&[u8]>,
    body: &[u8],
) -> Result<(), SignatureError> {
    let secret = secret.ok_or(SignatureError::NotConfigured)?;
    let header = header.ok_or(SignatureError::Missing)?;
    let given = STANDARD
        .decode(header.trim_ascii())
        .map_err(|_| SignatureError::Malformed)?;
    let mut mac = HmacSha256::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC accepts any key length");
    mac.update(body);
    mac.verify_slice(&given)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"id":1001,"line_items":[{"sku":"SKU-0001","quantity":1}]}"#;

    fn secret() -> Secret {
        Secret::new("shpss_test")
    }

    #[test]
    fn known_vector() {
        // RFC 4231 test case 2: key "Jefe".
        let mac = sign(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(mac, "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
    }

    #[test]
    fn good_signature_passes() {
        let header = sign(b"shpss_test", BODY);
        assert_eq!(
            verify(Some(&secret()), Some(header.as_bytes()), BODY),
            Ok(())
        );
        // Surrounding whitespace in the header is tolerated.
        let padded = format!(" {header} ");
        assert_eq!(
            verify(Some(&secret()), Some(padded.as_bytes()), BODY),
            Ok(())
        );
    }

    #[test]
    fn anything_else_fails() {
        let s = secret();
        let good = sign(b"shpss_test", BODY);
        assert_eq!(
            verify(None, Some(good.as_bytes()), BODY),
            Err(SignatureError::NotConfigured)
        );
        assert_eq!(verify(Some(&s), None, BODY), Err(SignatureError::Missing));
        assert_eq!(
            verify(Some(&s), Some(b"%%%"), BODY),
            Err(SignatureError::Malformed)
        );
        // Another secret, another body, a truncated MAC.
        let other = sign(b"other", BODY);
        assert_eq!(
            verify(Some(&s), Some(other.as_bytes()), BODY),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&s), Some(good.as_bytes()), b"{\"id\":1002}"),
            Err(SignatureError::Mismatch)
        );
        let short = STANDARD.encode(&STANDARD.decode(&good).unwrap()[..31]);
        assert_eq!(
            verify(Some(&s), Some(short.as_bytes()), BODY),
            Err(SignatureError::Mismatch)
        );
        // The hex form (another common scheme) is not accepted.
        let hex = hex::encode(STANDARD.decode(&good).unwrap());
        assert!(verify(Some(&s), Some(hex.as_bytes()), BODY).is_err());
    }

    #[test]
    fn comparison_is_over_every_byte() {
        // Constant-time path: a MAC differing only in its first or only in
        // its last byte is refused the same way (verify_slice folds all 32
        // bytes with subtle's ConstantTimeEq; no early exit on a prefix).
        let s = secret();
        let raw = STANDARD.decode(sign(b"shpss_test", BODY)).unwrap();
        for index in [0, 15, 31] {
            let mut flipped = raw.clone();
            flipped[index] ^= 0x01;
            let header = STANDARD.encode(&flipped);
            assert_eq!(
                verify(Some(&s), Some(header.as_bytes()), BODY),
                Err(SignatureError::Mismatch),
                "byte {index}"
            );
        }
    }
}
