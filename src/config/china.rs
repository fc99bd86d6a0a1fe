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
    /// SGIP 1.2 (China Unicom): a Submit link to the SMG and a report listener it
    /// connects back to (`report_listen`).
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
const SGIP_ONLY: &[&str] = &[
    "node_id",
    "report_listen",
    "report_system_id",
    "report_password",
];
/// SGIP Login Name / Login Password: 16 octets.
const SGIP_LOGIN_MAX: usize = 16;
/// SGIP ServiceType: 10 octets; SPNumber: 21; FeeValue: 6.
const SGIP_SERVICE_TYPE_MAX: usize = 10;

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
        sgip_fields(path, carrier, findings);
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

/// The checks of an SGIP carrier: Login Name and Password (16 octets each, sent in
/// clear), the node id, the report listener and its Bind's credentials, and the Submit
/// fields (ServiceType 10, SPNumber 21, FeeType 0–4, FeeValue 6 digits).
fn sgip_fields(path: &str, carrier: &CarrierConfig, findings: &mut Findings<'_>) {
    if carrier.address == "sim" {
        findings.add(
            format!("{path}.address"),
            "the built-in simulated carrier speaks SMPP; for an SGIP carrier start \
             `smppgate sim --protocol sgip --report-to <report_listen>` and write its \
             host:port here",
        );
    }
    let login = "the Login Name the SMG gave the SP";
    fixed(
        findings,
        &format!("{path}.system_id"),
        &carrier.system_id,
        SGIP_LOGIN_MAX,
        true,
        login,
    );
    fixed(
        findings,
        &format!("{path}.password"),
        &carrier.password,
        SGIP_LOGIN_MAX,
        true,
        "the Login Password the SMG gave the SP",
    );
    match carrier.node_id {
        None | Some(0) => findings.add(
            format!("{path}.node_id"),
            "missing; write the SP node id China Unicom assigned (3 + area code + the \
             five-digit corp id, e.g. node_id = 3020012345): it begins every sequence \
             number and its last five digits are the Submit's CorpId",
        ),
        Some(_) => {}
    }
    match carrier.report_listen.as_deref() {
        None => findings.add(
            format!("{path}.report_listen"),
            "missing; write the IP:port the SMG connects back to with reports and MO \
             (e.g. report_listen = \"0.0.0.0:8802\"), the address registered with the \
             carrier",
        ),
        Some(listen) => {
            if listen.parse::<std::net::SocketAddr>().is_err() {
                findings.add(
                    format!("{path}.report_listen"),
                    format!(
                        "`{listen}` is not IP:port; write e.g. \"0.0.0.0:8802\" (an IP \
                         address this host has, not a name)"
                    ),
                );
            }
        }
    }
    if let Some(name) = &carrier.report_system_id {
        fixed(
            findings,
            &format!("{path}.report_system_id"),
            name,
            SGIP_LOGIN_MAX,
            true,
            "the Login Name the SMG binds to report_listen with (or remove the key: \
             system_id is used)",
        );
    }
    if let Some(password) = &carrier.report_password {
        fixed(
            findings,
            &format!("{path}.report_password"),
            password,
            SGIP_LOGIN_MAX,
            true,
            "the Login Password the SMG binds to report_listen with (or remove the key: \
             password is used)",
        );
    }
    fixed(
        findings,
        &format!("{path}.service_id"),
        &carrier.service_id,
        SGIP_SERVICE_TYPE_MAX,
        false,
        "the ServiceType the carrier assigned",
    );
    fixed(
        findings,
        &format!("{path}.src_id"),
        &carrier.src_id,
        SRC_ID_MAX,
        false,
        "the SP number (e.g. 10655xxxx) the handset sees",
    );
    if !carrier.src_id.bytes().all(|b| b.is_ascii_digit()) {
        findings.add(
            format!("{path}.src_id"),
            format!(
                "`{}` is not a number; write the SP number in digits, e.g. \"10655001\"",
                carrier.src_id
            ),
        );
    }
    if sgip_fee_type(&carrier.fee_type).is_none() {
        findings.add(
            format!("{path}.fee_type"),
            format!(
                "`{}` is not an SGIP FeeType; write \"0\" (channel fee only), \"1\" (free, \
                 the default), \"2\" (per message), \"3\" (monthly) or \"4\" (the SP \
                 charges)",
                carrier.fee_type
            ),
        );
    }
    if carrier.fee_code.len() > 6 || !carrier.fee_code.bytes().all(|b| b.is_ascii_digit()) {
        findings.add(
            format!("{path}.fee_code"),
            format!(
                "`{}` is not a FeeValue in fen of at most 6 digits; write e.g. \"0\" or \
                 \"10\"",
                carrier.fee_code
            ),
        );
    }
    if carrier.fee_user_type > 3 {
        findings.add(
            format!("{path}.fee_user_type"),
            format!(
                "{} is not a payer; write 0 (the destination pays), 2 (the SP pays: \
                 ChargeNumber all zeros) or 1/3 (the SMG's default)",
                carrier.fee_user_type
            ),
        );
    }
}

/// An SGIP FeeType (one octet, 0–4) from `fee_type` ("01" and "1" are both 1).
#[must_use]
pub fn sgip_fee_type(fee_type: &str) -> Option<u8> {
    if fee_type.is_empty() || fee_type.len() > 2 || !fee_type.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    fee_type.parse::<u8>().ok().filter(|t| *t <= 4)
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
    fn an_sgip_carrier_with_node_id_and_report_listen_is_valid() {
        let text = "[[carrier]]\nname = \"cu\"\naddress = \"10.0.0.3:8801\"\ntps = 100\n\
                    protocol = \"sgip\"\nsystem_id = \"sp01\"\npassword = \"s3cret\"\n\
                    node_id = 3020012345\nreport_listen = \"0.0.0.0:8802\"\n\
                    report_system_id = \"smg01\"\n";
        assert_eq!(problems(text), Vec::<String>::new());
        let config = Config::parse(text, Path::new("t.toml")).unwrap();
        let carrier = &config.carriers[0];
        assert_eq!(carrier.node_id, Some(3_020_012_345));
        assert_eq!(carrier.report_system_id.as_deref(), Some("smg01"));
        assert_eq!(carrier.report_password, None);
        assert_eq!(super::sgip_fee_type(&carrier.fee_type), Some(1));
        // A Login Name over 16 octets names the field and the fix.
        let long = text.replace("sp01", "an-sp-name-that-is-long");
        assert!(
            problems(&long)[0].starts_with("t.toml:6: carrier[0].system_id: `an-sp-name"),
            "{:?}",
            problems(&long)
        );
    }

    #[test]
    fn china_problems_name_file_line_and_field() {
        let text = "[[carrier]]\nname = \"cmcc\"\naddress = \"10.0.0.1:7890\"\ntps = 100\n\
                    protocol = \"cmpp2\"\nsystem_id = \"9012345\"\npassword = \"\"\n\
                    system_type = \"x\"\nfee_type = \"1\"\nnode_id = 3\n\n\
                    [[carrier]]\nname = \"smsc\"\naddress = \"10.0.0.2:2775\"\ntps = 100\n\
                    service_id = \"MI\"\n\n\
                    [[carrier]]\nname = \"cu\"\naddress = \"10.0.0.3:8801\"\ntps = 100\n\
                    protocol = \"sgip\"\nsystem_id = \"u\"\npassword = \"p\"\n\
                    report_listen = \"localhost:8802\"\nfee_type = \"7\"\n";
        let found = problems(text);
        let expect = [
            "t.toml:6: carrier[0].system_id: `9012345` is 7 octets; the field holds at most 6",
            "t.toml:7: carrier[0].password: empty; write the shared secret",
            "t.toml:8: carrier[0].system_type: `system_type` is an SMPP setting; a cmpp2 carrier",
            "t.toml:9: carrier[0].fee_type: `1` is not a two-digit fee type",
            "t.toml:10: carrier[0].node_id: `node_id` is an SGIP setting",
            "t.toml:16: carrier[1].service_id: `service_id` is a setting of the Chinese carrier",
            "t.toml:18: carrier[2].node_id: missing; write the SP node id",
            "t.toml:25: carrier[2].report_listen: `localhost:8802` is not IP:port",
            "t.toml:26: carrier[2].fee_type: `7` is not an SGIP FeeType",
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
