//! The `[[carrier]]` settings of the Chinese carrier protocols (CMPP 2.0/3.0 to China
//! Mobile, SMGP 3.0 to China Telecom, SGIP 1.2 to China Unicom) and their checks.
//!
//! The login reuses the SMPP fields: `system_id` is the login name (CMPP Source_Addr, the
//! SP's six-digit enterprise code; SMGP ClientID, eight octets; SGIP login name) and
//! `password` the shared secret. What SMPP does not have has its own key, with a default
//! an SP on a plain industry (行业短信) contract can leave alone.

use serde::{Deserialize, Serialize};

use super::CarrierConfig;
use super::checks::Findings;

/// The protocol a carrier speaks.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum CarrierProtocol {
    /// SMPP 3.4.
    #[default]
    Smpp,
    /// CMPP 2.0 (China Mobile).
    Cmpp2,
    /// CMPP 3.0 (China Mobile).
    Cmpp3,
    /// SMGP 3.0 (China Telecom).
    Smgp,
    /// SGIP 1.2 (China Unicom): reserved, not supported yet.
    Sgip,
}

impl CarrierProtocol {
    /// As written in the file.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Smpp => "smpp",
            Self::Cmpp2 => "cmpp2",
            Self::Cmpp3 => "cmpp3",
            Self::Smgp => "smgp",
            Self::Sgip => "sgip",
        }
    }

    /// Whether this is one of the Chinese protocols.
    #[must_use]
    pub const fn is_china(self) -> bool {
        !matches!(self, Self::Smpp)
    }
}

/// How text that is not ASCII goes to a Chinese carrier.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum MsgFmt {
    /// UCS-2 (Msg_Fmt 8), what every carrier takes.
    #[default]
    Ucs2,
    /// GBK (Msg_Fmt 15), for links that still want it.
    Gbk,
}

/// `fee_type` when not written: "01", free to the user (industry SMS is billed to the SP
/// by contract, not per message).
pub(super) fn default_fee_type() -> String {
    "01".to_owned()
}

/// `fee_code` when not written: "000000" (0 fen; some gateways refuse a FeeCode of
/// padding octets).
pub(super) fn default_fee_code() -> String {
    "000000".to_owned()
}

/// `fee_user_type` when not written: 2, the SP pays.
pub(super) const fn default_fee_user_type() -> u8 {
    2
}

/// CMPP Source_Addr / Msg_src: 6 octets.
const CMPP_SP_ID_MAX: usize = 6;
/// SMGP ClientID: 8 octets.
const SMGP_CLIENT_ID_MAX: usize = 8;
/// Service_Id (CMPP) / ServiceID (SMGP): 10 octets.
const SERVICE_ID_MAX: usize = 10;
/// Src_Id (CMPP) / SrcTermID (SMGP): 21 octets.
const SRC_ID_MAX: usize = 21;

/// Keys that mean something only on an SMPP link.
const SMPP_ONLY: &[&str] = &["system_type", "bind", "tls", "data_coding_default"];
/// Keys that mean something only on a Chinese link.
const CHINA_ONLY: &[&str] = &[
    "service_id",
    "src_id",
    "fee_type",
    "fee_code",
    "fee_user_type",
    "msg_fmt",
];
/// Keys of SGIP only.
const SGIP_ONLY: &[&str] = &["node_id", "report_listen"];

/// The checks of a carrier's protocol-specific keys.
pub(super) fn carrier_fields(path: &str, carrier: &CarrierConfig, findings: &mut Findings<'_>) {
    let protocol = carrier.protocol;
    let written = |findings: &Findings<'_>, key: &str| findings.written(&format!("{path}.{key}"));
    if !protocol.is_china() {
        for key in CHINA_ONLY.iter().chain(SGIP_ONLY) {
            if written(findings, key) {
                findings.add(
                    format!("{path}.{key}"),
                    format!(
                        "`{key}` is a setting of the Chinese carrier protocols, not of SMPP; \
                         remove it, or write protocol = \"cmpp3\" (or cmpp2, smgp, sgip) if \
                         this carrier speaks one"
                    ),
                );
            }
        }
        return;
    }
    for key in SMPP_ONLY {
        if written(findings, key) {
            findings.add(
                format!("{path}.{key}"),
                format!(
                    "`{key}` is an SMPP setting; a {} carrier does not use it: remove it",
                    protocol.as_str()
                ),
            );
        }
    }
    if protocol != CarrierProtocol::Sgip {
        for key in SGIP_ONLY {
            if written(findings, key) {
                findings.add(
                    format!("{path}.{key}"),
                    format!(
                        "`{key}` is an SGIP setting; a {} carrier does not use it: remove it",
                        protocol.as_str()
                    ),
                );
            }
        }
    }
    if protocol == CarrierProtocol::Sgip {
        findings.add(
            format!("{path}.protocol"),
            "SGIP 1.2 carriers are not yet supported; reach China Unicom through an SMPP \
             or CMPP link for now",
        );
        return;
    }
    if carrier.address == "sim" {
        findings.add(
            format!("{path}.address"),
            format!(
                "the built-in simulated carrier speaks SMPP; for a {} carrier start \
                 `smppgate sim --protocol {}` and write its host:port here",
                protocol.as_str(),
                protocol.as_str()
            ),
        );
    }
    let (login, login_max, login_what) = match protocol {
        CarrierProtocol::Smgp => (
            "system_id",
            SMGP_CLIENT_ID_MAX,
            "the SMGP ClientID (the SP's login name)",
        ),
        _ => (
            "system_id",
            CMPP_SP_ID_MAX,
            "the CMPP Source_Addr (the SP's six-digit enterprise code)",
        ),
    };
    fixed(
        findings,
        &format!("{path}.{login}"),
        &carrier.system_id,
        login_max,
        true,
        login_what,
    );
    if carrier.password.is_empty() {
        findings.add(
            format!("{path}.password"),
            "empty; write the shared secret the carrier gave you (it is hashed into the \
             login authenticator, never sent)",
        );
    }
    fixed(
        findings,
        &format!("{path}.service_id"),
        &carrier.service_id,
        SERVICE_ID_MAX,
        false,
        "the service code (Service_Id) the carrier assigned",
    );
    fixed(
        findings,
        &format!("{path}.src_id"),
        &carrier.src_id,
        SRC_ID_MAX,
        false,
        "the SP access number (e.g. 1069xxxx) the handset sees",
    );
    if !carrier.src_id.bytes().all(|b| b.is_ascii_digit()) {
        findings.add(
            format!("{path}.src_id"),
            format!(
                "`{}` is not a number; write the SP access number in digits, e.g. \"10690001\"",
                carrier.src_id
            ),
        );
    }
    if carrier.fee_type.len() != 2 || !carrier.fee_type.bytes().all(|b| b.is_ascii_digit()) {
        findings.add(
            format!("{path}.fee_type"),
            format!(
                "`{}` is not a two-digit fee type; write \"01\" (free), \"02\" (per \
                 message), \"03\" (monthly), …",
                carrier.fee_type
            ),
        );
    }
    if carrier.fee_code.len() > 6 || !carrier.fee_code.bytes().all(|b| b.is_ascii_digit()) {
        findings.add(
            format!("{path}.fee_code"),
            format!(
                "`{}` is not a fee in fen of at most 6 digits; write e.g. \"000000\" or \
                 \"10\"",
                carrier.fee_code
            ),
        );
    }
    if carrier.fee_user_type > 3 {
        findings.add(
            format!("{path}.fee_user_type"),
            format!(
                "{} is not a Fee_UserType; write 0 (the destination pays), 1 (the source), \
                 2 (the SP) or 3 (a fee terminal)",
                carrier.fee_user_type
            ),
        );
    }
}

/// A fixed-width, NUL-padded field: printable ASCII of at most `max` octets.
fn fixed(
    findings: &mut Findings<'_>,
    path: &str,
    value: &str,
    max: usize,
    required: bool,
    what: &str,
) {
    if required && value.is_empty() {
        findings.add(path, format!("empty; write {what}"));
    } else if !value.bytes().all(|b| b.is_ascii_graphic()) {
        findings.add(
            path,
            format!("`{value}` has characters the field cannot carry; write {what} in ASCII"),
        );
    } else if value.len() > max {
        findings.add(
            path,
            format!(
                "`{value}` is {} octets; the field holds at most {max}: write {what}",
                value.len()
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{Config, ConfigError};

    fn problems(text: &str) -> Vec<String> {
        match Config::parse(text, Path::new("t.toml")) {
            Ok(_) => Vec::new(),
            Err(ConfigError::Invalid { problems }) => {
                problems.iter().map(ToString::to_string).collect()
            }
            Err(other) => panic!("{other}"),
        }
    }

    #[test]
    fn a_cmpp_carrier_with_its_defaults_is_valid() {
        let text = "[[carrier]]\nname = \"cmcc\"\naddress = \"10.0.0.1:7890\"\ntps = 100\n\
                    protocol = \"cmpp3\"\nsystem_id = \"901234\"\npassword = \"s3cret\"\n\
                    src_id = \"10690001\"\n";
        assert_eq!(problems(text), Vec::<String>::new());
        let config = Config::parse(text, Path::new("t.toml")).unwrap();
        let carrier = &config.carriers[0];
        assert_eq!(carrier.protocol, super::CarrierProtocol::Cmpp3);
        assert_eq!(
            (carrier.fee_type.as_str(), carrier.fee_user_type),
            ("01", 2)
        );
        assert_eq!(carrier.msg_fmt, super::MsgFmt::Ucs2);
    }

    #[test]
    fn china_problems_name_file_line_and_field() {
        let text = "[[carrier]]\nname = \"cmcc\"\naddress = \"10.0.0.1:7890\"\ntps = 100\n\
                    protocol = \"cmpp2\"\nsystem_id = \"9012345\"\npassword = \"\"\n\
                    system_type = \"x\"\nfee_type = \"1\"\nnode_id = 3\n\n\
                    [[carrier]]\nname = \"smsc\"\naddress = \"10.0.0.2:2775\"\ntps = 100\n\
                    service_id = \"MI\"\n\n\
                    [[carrier]]\nname = \"cu\"\naddress = \"10.0.0.3:8801\"\ntps = 100\n\
                    protocol = \"sgip\"\nsystem_id = \"u\"\npassword = \"p\"\n";
        let found = problems(text);
        let expect = [
            "t.toml:6: carrier[0].system_id: `9012345` is 7 octets; the field holds at most 6",
            "t.toml:7: carrier[0].password: empty; write the shared secret",
            "t.toml:8: carrier[0].system_type: `system_type` is an SMPP setting; a cmpp2 carrier",
            "t.toml:9: carrier[0].fee_type: `1` is not a two-digit fee type",
            "t.toml:10: carrier[0].node_id: `node_id` is an SGIP setting",
            "t.toml:16: carrier[1].service_id: `service_id` is a setting of the Chinese carrier",
            "t.toml:22: carrier[2].protocol: SGIP 1.2 carriers are not yet supported",
        ];
        for start in expect {
            assert!(
                found.iter().any(|p| p.starts_with(start)),
                "no problem starting with {start:?} in {found:#?}"
            );
        }
        assert_eq!(found.len(), expect.len(), "{found:#?}");
    }
}
