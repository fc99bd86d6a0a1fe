//! A submit_sm's own times (SMPP 3.4 §5.2.15, §5.2.16; reference §5.4):
//! `schedule_delivery_time` becomes the message's `not_before` (the same durable deferral
//! a policy's Defer uses: the dispatcher sends it no earlier, also after a restart) and
//! `validity_period` its `expires` (not sent by then: expired, EXPIRED receipt).
//!
//! The codec already refuses time strings that do not parse. Here the values are checked
//! against the calendar and the clock:
//! - a relative time counts from now (the submission), a year as 365 days, a month as 30;
//! - a schedule in the past means at once; one more than [`MAX_SCHEDULE_AHEAD`] ahead,
//!   or a date that does not exist (31 April), is `ESME_RINVSCHED`;
//! - a validity that is already over, that ends before the scheduled time, or names a
//!   date that does not exist is `ESME_RINVEXPIRY`; none set is the store's `validity`
//!   from the time the message may go; a longer one is cut to that (the store's
//!   `validity` is the longest a message is kept pending).

use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::SubmitSm;
use smppgate_protocol::types::time::{AbsoluteTime, SmppTime, TimeValue};

use crate::clock::WallMillis;
use crate::store::{MessageRecord, State};

/// The furthest ahead a message may be scheduled.
pub(crate) const MAX_SCHEDULE_AHEAD: u64 = 31 * 24 * 3600 * 1000;

/// When a message may go and when it expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Times {
    /// 0: at once.
    pub(crate) not_before: WallMillis,
    pub(crate) expires: WallMillis,
}

/// Whether a message expiring at `expires` (0: not recorded, see
/// [`crate::store::MessageRecord::expires`]) must not be sent at `now`.
pub(crate) const fn is_over(expires: WallMillis, now: WallMillis) -> bool {
    expires != 0 && now >= expires
}

/// When housekeeping expires a stored message. One not yet sent: at its own `expires`
/// (records written before messages had one: the store's `validity`, in ms, from its
/// acceptance). One a carrier has taken is the carrier's to expire under the validity it
/// was sent with (its receipt may come late): locally, no earlier than `validity` from
/// its acceptance.
pub(crate) fn expiry_of(record: &MessageRecord, validity: u64) -> WallMillis {
    let by_store = record.accepted.saturating_add(validity);
    match (record.state, record.expires) {
        (_, 0) => by_store,
        (State::Accepted, own) => own,
        (_, own) => own.max(by_store),
    }
}

/// The times of `submit_sm` received at `now`, with `validity` (ms) the store's default.
///
/// # Errors
/// `ESME_RINVSCHED` / `ESME_RINVEXPIRY` as the module comment says.
pub(crate) fn times(
    submit_sm: &SubmitSm,
    now: WallMillis,
    validity: u64,
) -> Result<Times, CommandStatus> {
    let scheduled = at(&submit_sm.schedule_delivery_time, now)
        .ok_or(CommandStatus::ESME_RINVSCHED)?
        .filter(|&at| at > now);
    if scheduled.is_some_and(|at| at - now > MAX_SCHEDULE_AHEAD) {
        return Err(CommandStatus::ESME_RINVSCHED);
    }
    let start = scheduled.unwrap_or(now);
    let longest = start.saturating_add(validity);
    let expires = match at(&submit_sm.validity_period, now).ok_or(CommandStatus::ESME_RINVEXPIRY)? {
        None => longest,
        Some(at) if at <= start => return Err(CommandStatus::ESME_RINVEXPIRY),
        Some(at) => at.min(longest),
    };
    Ok(Times {
        not_before: scheduled.unwrap_or(0),
        expires,
    })
}

/// The wall time a field names: `Some(None)` when not set, `None` when it is not a time
/// (a string the codec let through unchecked, or a date that does not exist).
fn at(time: &SmppTime, now: WallMillis) -> Option<Option<WallMillis>> {
    match time.parse().ok()? {
        None => Some(None),
        Some(TimeValue::Relative(relative)) => Some(Some(
            now.saturating_add(relative.approx_seconds().saturating_mul(1000)),
        )),
        Some(TimeValue::Absolute(absolute)) => absolute_ms(&absolute).map(Some),
    }
}

/// An absolute time in ms since the epoch; `None` for a date that does not exist or one
/// before the epoch.
fn absolute_ms(time: &AbsoluteTime) -> Option<WallMillis> {
    let year = i64::from(time.full_year());
    let (month, day) = (i64::from(time.month), i64::from(time.day));
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let seconds = days_from_civil(year, month, day) * 86_400
        + i64::from(time.hour) * 3600
        + i64::from(time.minute) * 60
        + i64::from(time.second)
        // Local time = UTC + offset: UTC = local - offset.
        - i64::from(time.utc_offset_minutes()) * 60;
    let ms = seconds.checked_mul(1000)? + i64::from(time.tenths) * 100;
    u64::try_from(ms).ok()
}

const fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

const fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`; the inverse of
/// [`crate::clock::utc_date`]).
const fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    const HOUR: u64 = 3_600_000;
    /// 2026-12-06 07:00:00 UTC.
    const NOW: u64 = 1_796_540_400_000;
    const VALIDITY: u64 = 72 * HOUR;

    fn submit(schedule: &str, validity: &str) -> SubmitSm {
        SubmitSm {
            schedule_delivery_time: SmppTime::from_raw_unchecked(Bytes::from(schedule.to_owned())),
            validity_period: SmppTime::from_raw_unchecked(Bytes::from(validity.to_owned())),
            ..SubmitSm::default()
        }
    }

    fn times_of(schedule: &str, validity: &str) -> Result<Times, CommandStatus> {
        times(&submit(schedule, validity), NOW, VALIDITY)
    }

    #[test]
    fn the_clock_and_the_calendar_agree() {
        let date = crate::clock::utc_date(NOW / 1000);
        assert_eq!(
            (date.year, date.month, date.day, date.hour),
            (2026, 12, 6, 7)
        );
        let absolute = AbsoluteTime {
            year: 26,
            month: 12,
            day: 6,
            hour: 7,
            minute: 0,
            second: 0,
            tenths: 0,
            quarter_hours: 0,
            sign: smppgate_protocol::types::time::UtcOffsetSign::Ahead,
        };
        assert_eq!(absolute_ms(&absolute), Some(NOW));
    }

    #[test]
    fn none_set_goes_at_once_and_expires_after_the_store_validity() {
        assert_eq!(
            times_of("", ""),
            Ok(Times {
                not_before: 0,
                expires: NOW + VALIDITY
            })
        );
    }

    #[test]
    fn relative_and_absolute_schedules() {
        // In two hours, relative.
        let relative = times_of("000000020000000R", "").unwrap();
        assert_eq!(relative.not_before, NOW + 2 * HOUR);
        assert_eq!(relative.expires, NOW + 2 * HOUR + VALIDITY);
        // 17:30 at UTC+08:00 (32 quarter hours) is 09:30 UTC.
        let absolute = times_of("261206173000032+", "").unwrap();
        assert_eq!(absolute.not_before, NOW + 2 * HOUR + HOUR / 2);
        // 02:00 at UTC-05:00 is 07:00 UTC + ... the same day: 07:00 → now: at once.
        assert_eq!(times_of("261206020000020-", "").unwrap().not_before, 0);
        // In the past: at once.
        assert_eq!(times_of("251206070000000+", "").unwrap().not_before, 0);
        // Tenths count.
        assert_eq!(
            times_of("261206080000300+", "").unwrap().not_before,
            NOW + HOUR + 300
        );
    }

    #[test]
    fn schedules_that_are_not_dates_or_too_far_ahead_are_refused() {
        let refused = Err(CommandStatus::ESME_RINVSCHED);
        // 31 November: not a date (past or not).
        assert_eq!(times_of("261131120000000+", ""), refused);
        assert!(times_of("261231120000000+", "").is_ok()); // 31 December
        let date = |year, month, day| AbsoluteTime {
            year,
            month,
            day,
            hour: 0,
            minute: 0,
            second: 0,
            tenths: 0,
            quarter_hours: 0,
            sign: smppgate_protocol::types::time::UtcOffsetSign::Ahead,
        };
        assert_eq!(absolute_ms(&date(27, 2, 29)), None); // 2027 is not a leap year
        assert!(absolute_ms(&date(28, 2, 29)).is_some()); // 2028 is
        assert_eq!(absolute_ms(&date(27, 4, 31)), None);
        assert_eq!(absolute_ms(&date(50, 1, 1)), None); // 1950: before the epoch
        assert_eq!(times_of("010000000000000R", ""), refused); // in a year
        assert!(times_of("000030000000000R", "").is_ok()); // in 30 days
        assert_eq!(times_of("garbage", ""), refused);
    }

    #[test]
    fn validity_relative_absolute_capped_and_refused() {
        // 10 minutes.
        assert_eq!(
            times_of("", "000000001000000R").unwrap().expires,
            NOW + 600_000
        );
        // 09:00 UTC today.
        assert_eq!(
            times_of("", "261206090000000+").unwrap().expires,
            NOW + 2 * HOUR
        );
        // Longer than the store's validity: cut to it.
        assert_eq!(
            times_of("", "000100000000000R").unwrap().expires,
            NOW + VALIDITY
        );
        let refused = Err(CommandStatus::ESME_RINVEXPIRY);
        assert_eq!(times_of("", "261206060000000+"), refused); // over already
        assert_eq!(times_of("", "261306060000000+"), refused); // month 13
        assert_eq!(times_of("", "x"), refused);
        // Ends before its scheduled time.
        assert_eq!(times_of("000000020000000R", "000000010000000R"), refused);
        // Scheduled: the default validity counts from the scheduled time.
        let later = times_of("000001000000000R", "").unwrap();
        assert_eq!(later.expires, later.not_before + VALIDITY);
    }

    /// The expiry scan's two halves ([`crate::store::ExpiryBound`]: the store's validity
    /// passed, or the message's own expiry) never pass over a message that
    /// [`expiry_of`] says is due, in any state, with or without its own `expires` on
    /// either side of the store's, at any time around them; and the store's validity is
    /// the exact expiry of a message without its own.
    #[test]
    fn the_expiry_scans_bound_never_passes_over_a_due_message() {
        use crate::store::{ExpiryBound, MessageRecord, State};
        let accepted = NOW;
        let states = [
            State::Accepted,
            State::Sent,
            State::Delivered,
            State::Failed,
            State::Expired,
        ];
        let owns = [
            0,
            1,
            HOUR,
            VALIDITY - 1,
            VALIDITY,
            VALIDITY + 1,
            2 * VALIDITY,
        ];
        for state in states {
            for own in owns {
                let expires = if own == 0 { 0 } else { accepted + own };
                let record = MessageRecord {
                    state,
                    expires,
                    ..crate::store::tests::message(1, "a", accepted)
                };
                let expiry = expiry_of(&record, VALIDITY);
                for now in [
                    expiry - 1,
                    expiry,
                    expiry + 1,
                    accepted,
                    accepted + 2 * VALIDITY,
                ] {
                    let bound = ExpiryBound {
                        now,
                        validity: VALIDITY,
                    };
                    if now >= expiry {
                        assert!(
                            bound.by_store(accepted) || bound.own(expires),
                            "{state:?} own {own} now {now}: due, passed over"
                        );
                    }
                    if own == 0 {
                        assert!(!bound.own(0));
                        assert_eq!(bound.by_store(accepted), now >= expiry);
                    }
                }
            }
        }
    }
}
