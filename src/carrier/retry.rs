//! Which statuses are worth retrying (a table in code, overridable per carrier), and how
//! long to wait before the next attempt.

use std::time::Duration;

use smppgate_protocol::command_status::CommandStatus;

/// What to do after a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Accepted.
    Done,
    /// ESME_RTHROTTLED / ESME_RMSGQFUL: pause the carrier, send again (not an attempt;
    /// after the carrier's `failover_after` to the next carrier).
    Throttled,
    /// Worth another attempt, after a backoff.
    Transient,
    /// Retrying cannot help: fail the message.
    Permanent,
}

/// Statuses retried by default: the carrier's own trouble, not the message's.
const TRANSIENT: &[CommandStatus] = &[
    CommandStatus::ESME_RSYSERR,
    CommandStatus::ESME_RX_T_APPN,
    CommandStatus::ESME_RSUBMITFAIL,
    CommandStatus::ESME_RUNKNOWNERR,
    CommandStatus::ESME_RINVBNDSTS,
    CommandStatus::ESME_RDELIVERYFAILURE,
];

/// Throttling: paused and re-sent, never counted as an attempt.
const THROTTLE: &[CommandStatus] = &[CommandStatus::ESME_RTHROTTLED, CommandStatus::ESME_RMSGQFUL];

/// The status table of one carrier: the built-in table plus its overrides. Anything not
/// transient or throttling is permanent (invalid destination or source, message length,
/// data_coding, esm_class, TLVs, receiver permanent error, …): an unknown status is not
/// retried, so a carrier's new error code cannot loop messages for ever.
#[derive(Debug, Clone, Default)]
pub(crate) struct StatusTable {
    transient: Vec<CommandStatus>,
    permanent: Vec<CommandStatus>,
}

impl StatusTable {
    /// With `transient` added to the built-in table and `permanent` overriding it
    /// (as [`CommandStatus::parse`] reads them: `ESME_RSYSERR`, `0x58`, `88`).
    ///
    /// # Errors
    /// The first status that does not parse.
    pub(crate) fn new(transient: &[String], permanent: &[String]) -> Result<Self, String> {
        let parse = |list: &[String]| {
            list.iter()
                .map(|text| {
                    CommandStatus::parse(text).ok_or_else(|| {
                        format!(
                            "`{text}` is not a command_status (a name like ESME_RTHROTTLED, \
                             hex 0x58 or decimal 88)"
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Self {
            transient: parse(transient)?,
            permanent: parse(permanent)?,
        })
    }

    /// The verdict for a response status.
    pub(crate) fn verdict(&self, status: CommandStatus) -> Verdict {
        if status.is_ok() {
            Verdict::Done
        } else if self.permanent.contains(&status) {
            Verdict::Permanent
        } else if THROTTLE.contains(&status) {
            Verdict::Throttled
        } else if TRANSIENT.contains(&status) || self.transient.contains(&status) {
            Verdict::Transient
        } else {
            Verdict::Permanent
        }
    }
}

/// The wait before attempt `attempt + 1` after `attempt` failures (1-based): `base`
/// doubling, capped at 64 × base, with ±25 % jitter so many messages failing together do
/// not come back together.
pub(crate) fn backoff(base: Duration, attempt: u32) -> Duration {
    let doubled = base.saturating_mul(1 << attempt.saturating_sub(1).min(6));
    doubled.mul_f64(0.75 + fastrand::f64() * 0.5)
}

/// The wait before bind attempt `failures + 1`: 100 ms doubling to 30 s, full jitter
/// between half and all of it.
pub(crate) fn reconnect_delay(failures: u32) -> Duration {
    let ceiling = Duration::from_millis(100)
        .saturating_mul(1 << failures.min(9))
        .min(Duration::from_secs(30));
    ceiling.mul_f64(0.5 + fastrand::f64() * 0.5)
}

/// The wait after the carrier refused a bind (bad credentials, already bound, too many
/// binds): retrying soon cannot help and may lock the account, so 30 s doubling to
/// 5 minutes.
pub(crate) fn rejected_bind_delay(rejections: u32) -> Duration {
    let ceiling = Duration::from_secs(30)
        .saturating_mul(1 << rejections.saturating_sub(1).min(4))
        .min(Duration::from_secs(300));
    ceiling.mul_f64(0.8 + fastrand::f64() * 0.2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_table() {
        let table = StatusTable::default();
        assert_eq!(table.verdict(CommandStatus::ESME_ROK), Verdict::Done);
        assert_eq!(
            table.verdict(CommandStatus::ESME_RTHROTTLED),
            Verdict::Throttled
        );
        assert_eq!(
            table.verdict(CommandStatus::ESME_RMSGQFUL),
            Verdict::Throttled
        );
        assert_eq!(
            table.verdict(CommandStatus::ESME_RSYSERR),
            Verdict::Transient
        );
        assert_eq!(
            table.verdict(CommandStatus::ESME_RX_T_APPN),
            Verdict::Transient
        );
        for permanent in [
            CommandStatus::ESME_RINVDSTADR,
            CommandStatus::ESME_RINVSRCADR,
            CommandStatus::ESME_RINVMSGLEN,
            CommandStatus::ESME_RINVESMCLASS,
            CommandStatus::ESME_RX_P_APPN,
            CommandStatus(0x0400),
        ] {
            assert_eq!(table.verdict(permanent), Verdict::Permanent, "{permanent}");
        }
    }

    #[test]
    fn overrides() {
        let table = StatusTable::new(
            &["0x0400".to_owned(), "ESME_RINVDSTADR".to_owned()],
            &["ESME_RSYSERR".to_owned(), "ESME_RINVDSTADR".to_owned()],
        )
        .unwrap();
        assert_eq!(table.verdict(CommandStatus(0x0400)), Verdict::Transient);
        assert_eq!(
            table.verdict(CommandStatus::ESME_RSYSERR),
            Verdict::Permanent
        );
        // Permanent wins when a status is in both lists.
        assert_eq!(
            table.verdict(CommandStatus::ESME_RINVDSTADR),
            Verdict::Permanent
        );
        assert!(StatusTable::new(&["ESME_NOPE".to_owned()], &[]).is_err());
    }

    #[test]
    fn delays_grow_and_stay_bounded() {
        let base = Duration::from_millis(100);
        assert!(backoff(base, 1) <= Duration::from_millis(125));
        assert!(backoff(base, 3) >= Duration::from_millis(300));
        assert!(backoff(base, 40) <= Duration::from_millis(8_000));
        assert!(reconnect_delay(0) <= Duration::from_millis(100));
        assert!(reconnect_delay(30) <= Duration::from_secs(30));
        assert!(rejected_bind_delay(1) >= Duration::from_secs(24));
        assert!(rejected_bind_delay(10) <= Duration::from_secs(300));
    }
}
