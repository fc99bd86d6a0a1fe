//! Session settings: window sizes and timer values, all in milliseconds (reference §4.5).

/// Which side of the session we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The client: binds, submits, receives deliver_sm.
    Esme,
    /// The server (a carrier SMSC, or smppgate facing its applications).
    Smsc,
}

impl Role {
    /// The other side.
    #[must_use]
    pub const fn peer(self) -> Self {
        match self {
            Self::Esme => Self::Smsc,
            Self::Smsc => Self::Esme,
        }
    }
}

/// Settings of one session. Every duration is in milliseconds; `None` switches a timer off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Most requests we may have outstanding (sent, not answered) at once.
    pub window_size: usize,
    /// Most requests received from the peer that the application has not answered yet.
    /// Beyond it, a request is answered at once with [`SessionConfig::peer_window_status`]
    /// (the peer overran its window).
    pub max_owed_responses: usize,
    /// `command_status` used to refuse a request beyond `max_owed_responses`.
    /// `None` picks by role: `ESME_RTHROTTLED` (0x58) as an SMSC, `ESME_RX_T_APPN` (0x64,
    /// temporary error, the SMSC retries) as an ESME.
    pub peer_window_status: Option<crate::command_status::CommandStatus>,
    /// response_timer: how long a request may wait for its response.
    pub response_timeout_ms: u64,
    /// enquire_link_timer: send an enquire_link after this long without receiving any PDU.
    pub enquire_link_interval_ms: Option<u64>,
    /// How long our enquire_link may wait for its response before the peer is declared dead.
    pub enquire_link_timeout_ms: u64,
    /// ESME: how long to wait for the bind response. SMSC (and an ESME accepting an
    /// outbind connection): session_init_timer, how long a connection may stay unbound.
    pub bind_timeout_ms: u64,
    /// inactivity_timer: unbind after this long without a transaction (a request other than
    /// enquire_link, either direction). Usually only the server side sets it.
    pub inactivity_timeout_ms: Option<u64>,
    /// The first sequence_number we send (1..=0x7FFFFFFF); later ones count up from it and
    /// wrap to 1. Starting elsewhere than 1 keeps a reconnect's numbers apart from the last
    /// connection's in logs and captures.
    pub first_sequence_number: u32,
    /// Unbinding: how long to wait for our outstanding responses before sending unbind, and
    /// then for unbind_resp; for a peer's unbind, how long the application has to answer
    /// what it owes before unbind_resp goes out anyway.
    pub unbind_timeout_ms: u64,
}

impl Default for SessionConfig {
    /// Defaults in line with smppex and common carrier practice (reference §4.5).
    fn default() -> Self {
        Self {
            window_size: 64,
            max_owed_responses: 1024,
            peer_window_status: None,
            response_timeout_ms: 30_000,
            enquire_link_interval_ms: Some(30_000),
            enquire_link_timeout_ms: 10_000,
            bind_timeout_ms: 10_000,
            inactivity_timeout_ms: None,
            unbind_timeout_ms: 5_000,
            first_sequence_number: 1,
        }
    }
}

/// A setting that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A size that must be at least 1 is 0.
    #[error("{field} must be at least 1")]
    Zero {
        /// The setting's field name.
        field: &'static str,
    },
    /// A value outside its range.
    #[error("{field} = {value} is outside {min}..={max}")]
    OutOfRange {
        /// The setting's field name.
        field: &'static str,
        /// The value given.
        value: u64,
        /// The lowest value accepted.
        min: u64,
        /// The highest value accepted.
        max: u64,
    },
    /// A size is beyond what the session supports.
    #[error("{field} = {value} is above the limit {limit}")]
    TooLarge {
        /// The setting's field name.
        field: &'static str,
        /// The value given.
        value: u64,
        /// The highest value accepted.
        limit: u64,
    },
}

/// Highest `window_size` / `max_owed_responses` accepted: far below the 2^31 sequence
/// numbers, so allocation always finds a free number quickly.
pub const MAX_WINDOW: usize = 1 << 20;

impl SessionConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first bad field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (field, value) in [
            ("window_size", self.window_size),
            ("max_owed_responses", self.max_owed_responses),
        ] {
            if value == 0 {
                return Err(ConfigError::Zero { field });
            }
            if value > MAX_WINDOW {
                return Err(ConfigError::TooLarge {
                    field,
                    value: value as u64,
                    limit: MAX_WINDOW as u64,
                });
            }
        }
        if !(1..=super::window::MAX_SEQUENCE_NUMBER).contains(&self.first_sequence_number) {
            return Err(ConfigError::OutOfRange {
                field: "first_sequence_number",
                value: u64::from(self.first_sequence_number),
                min: 1,
                max: u64::from(super::window::MAX_SEQUENCE_NUMBER),
            });
        }
        for (field, value) in [
            ("response_timeout_ms", Some(self.response_timeout_ms)),
            ("enquire_link_interval_ms", self.enquire_link_interval_ms),
            (
                "enquire_link_timeout_ms",
                Some(self.enquire_link_timeout_ms),
            ),
            ("bind_timeout_ms", Some(self.bind_timeout_ms)),
            ("inactivity_timeout_ms", self.inactivity_timeout_ms),
            ("unbind_timeout_ms", Some(self.unbind_timeout_ms)),
        ] {
            if value == Some(0) {
                return Err(ConfigError::Zero { field });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        assert_eq!(SessionConfig::default().validate(), Ok(()));
        assert_eq!(Role::Esme.peer(), Role::Smsc);
    }

    #[test]
    fn bad_values_name_the_field() {
        let config = SessionConfig {
            window_size: 0,
            ..SessionConfig::default()
        };
        assert_eq!(
            config.validate(),
            Err(ConfigError::Zero {
                field: "window_size"
            })
        );
        let config = SessionConfig {
            max_owed_responses: MAX_WINDOW + 1,
            ..SessionConfig::default()
        };
        assert!(matches!(
            config.validate(),
            Err(ConfigError::TooLarge {
                field: "max_owed_responses",
                ..
            })
        ));
        let config = SessionConfig {
            first_sequence_number: 0x8000_0000,
            ..SessionConfig::default()
        };
        assert!(matches!(
            config.validate(),
            Err(ConfigError::OutOfRange {
                field: "first_sequence_number",
                ..
            })
        ));
        let config = SessionConfig {
            enquire_link_interval_ms: Some(0),
            ..SessionConfig::default()
        };
        assert_eq!(
            config.validate(),
            Err(ConfigError::Zero {
                field: "enquire_link_interval_ms"
            })
        );
    }
}
