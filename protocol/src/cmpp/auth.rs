//! CONNECT authenticators (CMPP 3.0 §7.4.3.1-2): the SP proves it knows the shared secret,
//! and the ISMG's answer proves the ISMG knows it too.

use super::Version;
use super::pdu::ConnectResp;
use crate::china::auth::{md5, same, timestamp_digits};

/// AuthenticatorSource = MD5(Source_Addr + 9 × 0x00 + secret + MMDDHHMMSS).
#[must_use]
pub fn authenticator_source(source_addr: &[u8], secret: &[u8], timestamp: u32) -> [u8; 16] {
    md5(&[source_addr, &[0; 9], secret, &timestamp_digits(timestamp)])
}

/// AuthenticatorISMG = MD5(Status + AuthenticatorSource + secret), with Status in its wire
/// width (1 octet in 2.0, 4 in 3.0).
#[must_use]
pub fn authenticator_ismg(
    version: Version,
    status: u32,
    authenticator_source: &[u8; 16],
    secret: &[u8],
) -> [u8; 16] {
    let wide = status.to_be_bytes();
    let status = match version {
        Version::V2 => &wide[3..],
        Version::V3 => &wide[..],
    };
    md5(&[status, authenticator_source, secret])
}

/// Whether a CONNECT_RESP proves the ISMG knows the secret: its AuthenticatorISMG is the
/// one computed from its Status, the AuthenticatorSource we sent and the secret (compared
/// without an early exit).
#[must_use]
pub fn check_authenticator_ismg(
    version: Version,
    resp: &ConnectResp,
    authenticator_source: &[u8; 16],
    secret: &[u8],
) -> bool {
    let expected = authenticator_ismg(version, resp.status, authenticator_source, secret);
    same(&expected, &resp.authenticator_ismg)
}

#[cfg(test)]
mod tests {
    use super::*;

    // bigwhite/gocmpp connect_test.go (commit e6111341341ab94ce81f2949b092dadce82f86b2):
    // Source_Addr "900001", secret "888888", timestamp 1021080510.
    const GOCMPP_SOURCE: [u8; 16] = [
        0x90, 0xd0, 0x0c, 0x1d, 0x51, 0x7a, 0xbd, 0x0b, 0x4f, 0x65, 0xf6, 0xbc, 0xf8, 0x53, 0x5d,
        0x16,
    ];

    #[test]
    fn source_matches_gocmpp() {
        assert_eq!(
            authenticator_source(b"900001", b"888888", 1_021_080_510),
            GOCMPP_SOURCE
        );
    }

    #[test]
    fn ismg_matches_gocmpp_for_both_status_widths() {
        assert_eq!(
            authenticator_ismg(Version::V2, 0, &GOCMPP_SOURCE, b"888888"),
            [
                0x6c, 0x0b, 0x84, 0x6e, 0x25, 0xba, 0xb6, 0xda, 0xa4, 0xed, 0x1c, 0x46, 0x6e, 0x0f,
                0x4b, 0xd8
            ]
        );
        assert_eq!(
            authenticator_ismg(Version::V3, 0, &GOCMPP_SOURCE, b"888888"),
            [
                0x79, 0x42, 0x97, 0x72, 0x74, 0x09, 0x8c, 0xf2, 0x10, 0xab, 0x0c, 0x16, 0xc3, 0x67,
                0xbc, 0x8d
            ]
        );
    }

    #[test]
    fn connect_resp_check() {
        let mut resp = ConnectResp {
            status: 0,
            authenticator_ismg: authenticator_ismg(Version::V2, 0, &GOCMPP_SOURCE, b"888888"),
            version: 0x20,
        };
        assert!(check_authenticator_ismg(
            Version::V2,
            &resp,
            &GOCMPP_SOURCE,
            b"888888"
        ));
        // The 3.0 hash covers four Status octets: a 2.0 answer does not pass as 3.0.
        assert!(!check_authenticator_ismg(
            Version::V3,
            &resp,
            &GOCMPP_SOURCE,
            b"888888"
        ));
        assert!(!check_authenticator_ismg(
            Version::V2,
            &resp,
            &GOCMPP_SOURCE,
            b"888889"
        ));
        resp.authenticator_ismg[15] ^= 1;
        assert!(!check_authenticator_ismg(
            Version::V2,
            &resp,
            &GOCMPP_SOURCE,
            b"888888"
        ));
    }

    #[test]
    fn a_wrong_secret_gives_another_authenticator() {
        assert_ne!(
            authenticator_source(b"900001", b"888889", 1_021_080_510),
            GOCMPP_SOURCE
        );
    }
}
