//! `command_status`: the SMPP 3.4 error codes (reference §3).
//!
//! Any u32 is accepted (reference §0.9): unknown and vendor-specific values keep their
//! number. Names are a table, never arithmetic (the numbering jumps 0x49 → 0x50).

use std::fmt;

/// A `command_status` value. Any u32 is valid on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct CommandStatus(pub u32);

macro_rules! statuses {
    ($($name:ident = $value:literal, $text:literal;)*) => {
        impl CommandStatus {
    /// The spec name, or the value as `0x%08x` for a reserved, vendor or unknown status
    /// (what logs, metrics labels and JSON output show).
    #[must_use]
    pub fn name_or_hex(self) -> std::borrow::Cow<'static, str> {
        match self.name() {
            Some(name) => std::borrow::Cow::Borrowed(name),
            None => std::borrow::Cow::Owned(format!("{:#010x}", self.0)),
        }
    }

            $(
                #[doc = concat!("`", stringify!($name), "` (", stringify!($value), "): ", $text, ".")]
                pub const $name: Self = Self($value);
            )*

            /// Every named 3.4 status, in numeric order.
            pub const ALL: &'static [Self] = &[$(Self::$name),*];

            /// The spec name (`"ESME_RTHROTTLED"`), or `None` for a reserved, vendor or
            /// unknown value.
            #[must_use]
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some(stringify!($name)),)*
                    _ => None,
                }
            }

            /// The status of a spec name (`"ESME_RTHROTTLED"`, case-insensitive), or `None`
            /// when no 3.4 status has that name.
            #[must_use]
            pub fn from_name(name: &str) -> Option<Self> {
                $(
                    if name.eq_ignore_ascii_case(stringify!($name)) {
                        return Some(Self::$name);
                    }
                )*
                None
            }

            /// A short English description; vendor-specific and unknown values get a
            /// generic one.
            #[must_use]
            pub const fn description(self) -> &'static str {
                match self.0 {
                    $($value => $text,)*
                    0x400..=0x4FF => "vendor-specific",
                    _ => "reserved/unknown",
                }
            }
        }
    };
}

statuses! {
    ESME_ROK = 0x0000_0000, "ok";
    ESME_RINVMSGLEN = 0x0000_0001, "message length invalid";
    ESME_RINVCMDLEN = 0x0000_0002, "command length invalid";
    ESME_RINVCMDID = 0x0000_0003, "invalid command id";
    ESME_RINVBNDSTS = 0x0000_0004, "incorrect bind status for given command";
    ESME_RALYBND = 0x0000_0005, "already bound";
    ESME_RINVPRTFLG = 0x0000_0006, "invalid priority flag";
    ESME_RINVREGDLVFLG = 0x0000_0007, "invalid registered delivery flag";
    ESME_RSYSERR = 0x0000_0008, "system error";
    ESME_RINVSRCADR = 0x0000_000A, "invalid source address";
    ESME_RINVDSTADR = 0x0000_000B, "invalid destination address";
    ESME_RINVMSGID = 0x0000_000C, "message id invalid";
    ESME_RBINDFAIL = 0x0000_000D, "bind failed";
    ESME_RINVPASWD = 0x0000_000E, "invalid password";
    ESME_RINVSYSID = 0x0000_000F, "invalid system id";
    ESME_RCANCELFAIL = 0x0000_0011, "cancel_sm failed";
    ESME_RREPLACEFAIL = 0x0000_0013, "replace_sm failed";
    ESME_RMSGQFUL = 0x0000_0014, "message queue full";
    ESME_RINVSERTYP = 0x0000_0015, "invalid service type";
    ESME_RINVNUMDESTS = 0x0000_0033, "invalid number of destinations";
    ESME_RINVDLNAME = 0x0000_0034, "invalid distribution list name";
    ESME_RINVDESTFLAG = 0x0000_0040, "invalid destination flag (submit_multi)";
    ESME_RINVSUBREP = 0x0000_0042, "invalid submit with replace request";
    ESME_RINVESMCLASS = 0x0000_0043, "invalid esm_class";
    ESME_RCNTSUBDL = 0x0000_0044, "cannot submit to distribution list";
    ESME_RSUBMITFAIL = 0x0000_0045, "submit_sm or submit_multi failed";
    ESME_RINVSRCTON = 0x0000_0048, "invalid source address TON";
    ESME_RINVSRCNPI = 0x0000_0049, "invalid source address NPI";
    ESME_RINVDSTTON = 0x0000_0050, "invalid destination address TON";
    ESME_RINVDSTNPI = 0x0000_0051, "invalid destination address NPI";
    ESME_RINVSYSTYP = 0x0000_0053, "invalid system_type";
    ESME_RINVREPFLAG = 0x0000_0054, "invalid replace_if_present flag";
    ESME_RINVNUMMSGS = 0x0000_0055, "invalid number of messages";
    ESME_RTHROTTLED = 0x0000_0058, "throttled";
    ESME_RINVSCHED = 0x0000_0061, "invalid scheduled delivery time";
    ESME_RINVEXPIRY = 0x0000_0062, "invalid validity period (expiry time)";
    ESME_RINVDFTMSGID = 0x0000_0063, "predefined message invalid or not found";
    ESME_RX_T_APPN = 0x0000_0064, "ESME receiver temporary app error";
    ESME_RX_P_APPN = 0x0000_0065, "ESME receiver permanent app error";
    ESME_RX_R_APPN = 0x0000_0066, "ESME receiver reject message";
    ESME_RQUERYFAIL = 0x0000_0067, "query_sm failed";
    ESME_RINVOPTPARSTREAM = 0x0000_00C0, "error in the optional part of the PDU body";
    ESME_ROPTPARNOTALLWD = 0x0000_00C1, "optional parameter not allowed";
    ESME_RINVPARLEN = 0x0000_00C2, "invalid parameter length";
    ESME_RMISSINGOPTPARAM = 0x0000_00C3, "expected optional parameter missing";
    ESME_RINVOPTPARAMVAL = 0x0000_00C4, "invalid optional parameter value";
    ESME_RDELIVERYFAILURE = 0x0000_00FE, "delivery failure";
    ESME_RUNKNOWNERR = 0x0000_00FF, "unknown error";
}

/// smppgate's own statuses in the vendor range (reference §3: 0x400–0x4FF), one per
/// market rule that can refuse a message (issue #15). A peer that knows only SMPP 3.4
/// sees "vendor-specific"; a policy can map each to a standard status instead.
macro_rules! vendor_statuses {
    ($($name:ident = $value:literal, $text:literal;)*) => {
        impl CommandStatus {
            $(
                #[doc = concat!("smppgate's `", stringify!($name), "` (", stringify!($value), "): ", $text, ".")]
                pub const $name: Self = Self($value);
            )*

            /// smppgate's vendor statuses, in numeric order.
            pub const SMPPGATE: &'static [Self] = &[$(Self::$name),*];

            /// The name of one of smppgate's vendor statuses (`"SMPPGATE_RBLACKLISTED"`).
            #[must_use]
            pub const fn vendor_name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some(stringify!($name)),)*
                    _ => None,
                }
            }

            const fn vendor_description(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some($text),)*
                    _ => None,
                }
            }

            fn from_vendor_name(name: &str) -> Option<Self> {
                $(
                    if name.eq_ignore_ascii_case(stringify!($name)) {
                        return Some(Self::$name);
                    }
                )*
                None
            }
        }
    };
}

vendor_statuses! {
    SMPPGATE_ROPTEDOUT = 0x0000_0400, "recipient opted out";
    SMPPGATE_RBLACKLISTED = 0x0000_0401, "recipient blacklisted";
    SMPPGATE_RFREQCAP = 0x0000_0402, "frequency cap reached";
    SMPPGATE_RCONTENT = 0x0000_0403, "sensitive content";
    SMPPGATE_RSIGNATURE = 0x0000_0404, "signature missing or not allowed";
    SMPPGATE_ROPTOUTTEXT = 0x0000_0405, "opt-out text missing";
}

impl CommandStatus {
    /// The spec name or smppgate's vendor name, if either.
    #[must_use]
    pub const fn any_name(self) -> Option<&'static str> {
        match self.name() {
            Some(name) => Some(name),
            None => self.vendor_name(),
        }
    }

    /// Whether this is `ESME_ROK`.
    #[must_use]
    pub const fn is_ok(self) -> bool {
        self.0 == 0
    }

    /// Whether the peer asks the sender to slow down (`ESME_RTHROTTLED`, or
    /// `ESME_RMSGQFUL`: its queue is full): a refusal for now, not of the message.
    #[must_use]
    pub const fn is_throttle(self) -> bool {
        self.0 == Self::ESME_RTHROTTLED.0 || self.0 == Self::ESME_RMSGQFUL.0
    }

    /// Whether the value is in the SMSC vendor-specific range 0x400–0x4FF (reference §3).
    #[must_use]
    pub const fn is_vendor_specific(self) -> bool {
        matches!(self.0, 0x400..=0x4FF)
    }

    /// A status as written in a configuration file: a spec name (`ESME_RTHROTTLED`,
    /// case-insensitive), a hexadecimal number (`0x58`) or a decimal one (`88`). `None`
    /// for anything else (an unknown name, a number over `u32::MAX`).
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            // from_str_radix would also take a sign (`0x+58`).
            if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            return u32::from_str_radix(hex, 16).ok().map(Self);
        }
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            return text.parse().ok().map(Self);
        }
        Self::from_name(text).or_else(|| Self::from_vendor_name(text))
    }

    /// The raw value.
    #[must_use]
    pub const fn as_u32(self) -> u32 {
        self.0
    }
}

impl From<u32> for CommandStatus {
    fn from(value: u32) -> Self {
        Self(value)
    }
}

impl From<CommandStatus> for u32 {
    fn from(status: CommandStatus) -> Self {
        status.0
    }
}

/// `ESME_RTHROTTLED (0x00000058): throttled`; `0x00000420: vendor-specific`;
/// `SMPPGATE_RBLACKLISTED (0x00000401): recipient blacklisted (vendor-specific)`;
/// `0x00000009: reserved/unknown`.
impl fmt::Display for CommandStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.name(), self.vendor_name(), self.vendor_description()) {
            (Some(name), _, _) => write!(f, "{name} ({:#010x}): {}", self.0, self.description()),
            (None, Some(name), Some(text)) => {
                write!(f, "{name} ({:#010x}): {text} (vendor-specific)", self.0)
            }
            _ => write!(f, "{:#010x}: {}", self.0, self.description()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_throttled_and_queue_full_ask_to_slow_down() {
        assert!(CommandStatus::ESME_RTHROTTLED.is_throttle());
        assert!(CommandStatus::ESME_RMSGQFUL.is_throttle());
        for other in [
            CommandStatus::ESME_ROK,
            CommandStatus::ESME_RSYSERR,
            CommandStatus::ESME_RX_T_APPN,
            CommandStatus(0x0000_0059),
        ] {
            assert!(!other.is_throttle(), "{other}");
        }
    }

    #[test]
    fn smppgate_vendor_statuses() {
        let codes: Vec<u32> = CommandStatus::SMPPGATE.iter().map(|s| s.0).collect();
        assert_eq!(codes, [0x400, 0x401, 0x402, 0x403, 0x404, 0x405]);
        for status in CommandStatus::SMPPGATE {
            assert!(status.is_vendor_specific());
            assert_eq!(status.name(), None, "not a 3.4 name");
            let name = status.vendor_name().unwrap();
            assert_eq!(status.any_name(), Some(name));
            assert_eq!(CommandStatus::parse(name), Some(*status));
            assert_eq!(CommandStatus::parse(&name.to_lowercase()), Some(*status));
        }
        assert_eq!(CommandStatus(0x406).vendor_name(), None);
        assert_eq!(
            CommandStatus::ESME_RTHROTTLED.any_name(),
            Some("ESME_RTHROTTLED")
        );
    }

    #[test]
    fn display_known_vendor_and_unknown() {
        assert_eq!(
            CommandStatus::ESME_RTHROTTLED.to_string(),
            "ESME_RTHROTTLED (0x00000058): throttled"
        );
        assert_eq!(
            CommandStatus(0x420).to_string(),
            "0x00000420: vendor-specific"
        );
        assert_eq!(
            CommandStatus(0x401).to_string(),
            "SMPPGATE_RBLACKLISTED (0x00000401): recipient blacklisted (vendor-specific)"
        );
        assert_eq!(
            CommandStatus(0x09).to_string(),
            "0x00000009: reserved/unknown"
        );
        assert_eq!(CommandStatus(u32::MAX).name(), None);
    }

    #[test]
    fn from_name_and_parse() {
        for status in CommandStatus::ALL {
            let name = status.name().unwrap_or_default();
            assert_eq!(CommandStatus::from_name(name), Some(*status));
            assert_eq!(CommandStatus::parse(name), Some(*status));
        }
        assert_eq!(
            CommandStatus::from_name("esme_rthrottled"),
            Some(CommandStatus::ESME_RTHROTTLED)
        );
        assert_eq!(CommandStatus::from_name("ESME_RNOPE"), None);
        assert_eq!(CommandStatus::from_name(""), None);
        assert_eq!(
            CommandStatus::parse("0x58"),
            Some(CommandStatus::ESME_RTHROTTLED)
        );
        assert_eq!(CommandStatus::parse("0X0401"), Some(CommandStatus(0x401)));
        assert_eq!(
            CommandStatus::parse("88"),
            Some(CommandStatus::ESME_RTHROTTLED)
        );
        assert_eq!(
            CommandStatus::parse(" 20 "),
            Some(CommandStatus::ESME_RMSGQFUL)
        );
        for bad in [
            "",
            "0x",
            "0x1g",
            "-1",
            "+5",
            "4294967296",
            "0x1_0000_0000",
            "0x+58",
            "throttled",
        ] {
            assert_eq!(CommandStatus::parse(bad), None, "{bad}");
        }
    }

    /// Every form a configuration file, a sim scenario or a sim flag may write (the one
    /// parser they all share).
    #[test]
    fn parse_accepts_every_written_form() {
        let throttled = Some(CommandStatus::ESME_RTHROTTLED);
        for text in [
            "ESME_RTHROTTLED",
            "esme_rthrottled",
            "Esme_RThrottled",
            "  ESME_RTHROTTLED\t",
            "0x58",
            "0X58",
            "0x0058",
            "0x00000058",
            "88",
            "0088",
            " 88 ",
        ] {
            assert_eq!(CommandStatus::parse(text), throttled, "{text:?}");
        }
        assert_eq!(CommandStatus::parse("0xfE"), Some(CommandStatus(0xFE)));
        assert_eq!(CommandStatus::parse("0x4FF"), Some(CommandStatus(0x4FF)));
        assert_eq!(CommandStatus::parse("1280"), Some(CommandStatus(0x500)));
        assert_eq!(CommandStatus::parse("0"), Some(CommandStatus::ESME_ROK));
        assert_eq!(
            CommandStatus::parse("0xFFFFFFFF"),
            Some(CommandStatus(u32::MAX))
        );
        assert_eq!(
            CommandStatus::parse("4294967295"),
            Some(CommandStatus(u32::MAX))
        );
        // A sign is not a status (`u32::from_str` and `from_str_radix` would take one).
        for text in [
            "+88",
            "0x+58",
            "-0",
            "0x-1",
            "ESME_RTHROTTLED2",
            "0x58 0x14",
        ] {
            assert_eq!(CommandStatus::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn vendor_range_and_gaps() {
        assert!(!CommandStatus(0x3FF).is_vendor_specific());
        assert!(CommandStatus(0x400).is_vendor_specific());
        assert!(CommandStatus(0x4FF).is_vendor_specific());
        assert!(!CommandStatus(0x500).is_vendor_specific());
        // The jump 0x49 → 0x50: nothing named in between.
        for v in 0x4A..0x50 {
            assert_eq!(CommandStatus(v).name(), None);
        }
        assert_eq!(CommandStatus(0x50), CommandStatus::ESME_RINVDSTTON);
        assert_eq!(CommandStatus(0x61).name(), Some("ESME_RINVSCHED"));
        assert_eq!(CommandStatus::ALL.len(), 48);
        assert!(CommandStatus::ALL.windows(2).all(|w| w[0] < w[1]));
        assert!(CommandStatus::ESME_ROK.is_ok());
        assert!(!CommandStatus::ESME_RSYSERR.is_ok());
    }
}
