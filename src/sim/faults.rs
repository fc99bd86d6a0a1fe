//! Misbehaviour on demand: the fault settings of [`super::SimConfig`] and their parsers
//! (shared by the command line and scenario files).

use std::time::Duration;

use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::receipt::MessageState;

/// Percentages are kept in hundredths of a percent (basis points): `10.5` % → 1050.
pub const BASIS: u32 = 10_000;

/// A delay drawn uniformly from `min..=max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DelayRange {
    /// Shortest.
    pub min: Duration,
    /// Longest.
    pub max: Duration,
}

impl DelayRange {
    /// Always `d`.
    #[must_use]
    pub const fn fixed(d: Duration) -> Self {
        Self { min: d, max: d }
    }

    /// One draw.
    #[must_use]
    pub fn sample(&self) -> Duration {
        if self.max <= self.min {
            return self.min;
        }
        let min = u64::try_from(self.min.as_micros()).unwrap_or(u64::MAX);
        let max = u64::try_from(self.max.as_micros()).unwrap_or(u64::MAX);
        Duration::from_micros(fastrand::u64(min..=max))
    }

    /// Whether every draw is zero.
    #[must_use]
    pub fn is_zero(&self) -> bool {
        self.max.is_zero()
    }
}

/// Which text/TLV bases a receipt carries its id in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReceiptIdStyle {
    /// Both as in submit_sm_resp.
    #[default]
    Same,
    /// `id:` decimal, receipted_message_id hexadecimal (the same number).
    DecInTextHexInTlv,
    /// `id:` hexadecimal, receipted_message_id decimal.
    HexInTextDecInTlv,
}

/// Where a receipt carries its information.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReceiptFormat {
    /// Only the `id:… stat:…` text.
    Text,
    /// Only receipted_message_id and message_state (empty short_message).
    Tlv,
    /// Both (the default).
    #[default]
    Both,
}

/// Which bind of the submitter's system_id a receipt goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReceiptBind {
    /// The submitting bind when it can receive, else any receiver bind.
    #[default]
    Any,
    /// Only the submitting bind (dropped when it cannot receive).
    Same,
    /// A different receiver bind of the same system_id (kept and retried until there is
    /// one).
    Other,
}

/// The faults and carrier quirks; [`Faults::default`] is a polite carrier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Faults {
    /// Statuses injected into submit responses, with their share in basis points.
    pub error_rate: Vec<(CommandStatus, u32)>,
    /// Accepted submits per second per system_id (all its binds together).
    pub tps: Option<u32>,
    /// Status for submits over `tps`.
    pub throttle_status: CommandStatus,
    /// Message ids zero-padded to this many characters (hex/dec).
    pub id_len: usize,
    /// Bases of the id in receipts.
    pub receipt_id_style: ReceiptIdStyle,
    /// Text, TLVs or both.
    pub receipt_format: ReceiptFormat,
    /// Final states drawn with these weights (empty: always DELIVRD).
    pub receipt_states: Vec<(MessageState, u32)>,
    /// Longest receipt delay (`SimConfig::receipt_delay` is the shortest).
    pub receipt_delay_max: Option<Duration>,
    /// Which bind receipts go to.
    pub receipt_bind: ReceiptBind,
    /// Write the receipt before the submit_sm_resp.
    pub receipt_before_resp: bool,
    /// Delay before each response to a submit.
    pub resp_delay: DelayRange,
    /// Close a connection when it has sent this many requests after its bind (the last
    /// one is not answered).
    pub drop_after: Option<u64>,
    /// Answer this many message requests (submit_sm, data_sm, submit_multi) of a
    /// connection, then nothing at all, enquire_link and unbind included (the socket
    /// stays open).
    pub silent_after: Option<u64>,
    /// Expected disconnects per connection per minute, in basis points (10 000 = one a
    /// minute on average, Poisson).
    pub disconnect_rate: Option<u32>,
    /// Binds after this many successful ones fail with `ESME_RBINDFAIL`.
    pub reject_bind_after: Option<u64>,
    /// system_id → password; when non-empty only these may bind.
    pub accounts: Vec<(String, String)>,
    /// Binds at once per system_id.
    pub max_binds: Option<usize>,
    /// Status for one bind more than `max_binds`.
    pub max_binds_status: CommandStatus,
    /// Mobile-originated messages per second, spread over bound receivers.
    pub mo_rate: Option<u32>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            error_rate: Vec::new(),
            tps: None,
            throttle_status: CommandStatus::ESME_RTHROTTLED,
            id_len: 0,
            receipt_id_style: ReceiptIdStyle::Same,
            receipt_format: ReceiptFormat::Both,
            receipt_states: Vec::new(),
            receipt_delay_max: None,
            receipt_bind: ReceiptBind::Any,
            receipt_before_resp: false,
            resp_delay: DelayRange::default(),
            drop_after: None,
            silent_after: None,
            disconnect_rate: None,
            reject_bind_after: None,
            accounts: Vec::new(),
            max_binds: None,
            max_binds_status: CommandStatus::ESME_RALYBND,
            mo_rate: None,
        }
    }
}

impl Faults {
    /// Whether per-connection state is needed on the hot path.
    pub(crate) fn per_connection(&self) -> bool {
        self.drop_after.is_some() || self.silent_after.is_some() || self.tps.is_some()
    }
}

/// What to say about a status that [`CommandStatus::parse`] (the one parser, shared
/// with the configuration file) does not take.
#[must_use]
pub fn unknown_status(text: &str) -> String {
    format!("unknown status {text:?} (a name like ESME_RTHROTTLED, hex 0x58 or decimal 88)")
}

/// A percentage (`10`, `2.5`) in basis points.
///
/// # Errors
/// Not a number, negative, or above `max_percent`.
pub fn parse_percent(s: &str, max_percent: f64) -> Result<u32, String> {
    let s = s.trim().trim_end_matches('%');
    let p: f64 = s.parse().map_err(|_| format!("bad percentage {s:?}"))?;
    if !(0.0..=max_percent).contains(&p) {
        return Err(format!("percentage {p} out of range 0..={max_percent}"));
    }
    // In range, so the rounding cast cannot overflow.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok((p * 100.0).round() as u32)
}

/// `KEY=VALUE,KEY=VALUE`.
fn pairs(s: &str) -> impl Iterator<Item = Result<(&str, &str), String>> {
    s.split(',').filter(|p| !p.trim().is_empty()).map(|p| {
        p.split_once('=')
            .map(|(k, v)| (k.trim(), v.trim()))
            .ok_or_else(|| format!("expected KEY=VALUE, got {p:?}"))
    })
}

/// `ESME_RTHROTTLED=10,0x14=2.5`: statuses and their share; at most 100 % in total.
///
/// # Errors
/// A message naming the bad part.
pub fn parse_error_rate(s: &str) -> Result<Vec<(CommandStatus, u32)>, String> {
    let mut out = Vec::new();
    for pair in pairs(s) {
        let (status, percent) = pair?;
        let status = CommandStatus::parse(status).ok_or_else(|| unknown_status(status))?;
        out.push((status, parse_percent(percent, 100.0)?));
    }
    if out.iter().map(|(_, p)| *p).sum::<u32>() > BASIS {
        return Err(format!("error rates in {s:?} add up to more than 100 %"));
    }
    Ok(out)
}

/// `8=10,13=2.5`: submit Results (CMPP Result, SMGP Status, SGIP Result; decimal, 1 to 255)
/// and their share; at most 100 % in total.
///
/// # Errors
/// A message naming the bad part.
pub fn parse_result_rate(s: &str) -> Result<Vec<(u32, u32)>, String> {
    let mut out = Vec::new();
    for pair in pairs(s) {
        let (result, percent) = pair?;
        let result = match result.trim().parse::<u32>() {
            Ok(r) if (1..=255).contains(&r) => r,
            _ => {
                return Err(format!(
                    "bad Result {result:?}: a submit Result is a number from 1 to 255 \
                     (flow control: CMPP 8, SMGP 75, SGIP 11)"
                ));
            }
        };
        out.push((result, parse_percent(percent, 100.0)?));
    }
    if out.iter().map(|(_, p)| *p).sum::<u32>() > BASIS {
        return Err(format!("error rates in {s:?} add up to more than 100 %"));
    }
    Ok(out)
}

/// `DELIVRD=90,UNDELIV=5`: final states and their weights.
///
/// # Errors
/// A message naming the bad part.
pub fn parse_states(s: &str) -> Result<Vec<(MessageState, u32)>, String> {
    let mut out = Vec::new();
    for pair in pairs(s) {
        let (stat, weight) = pair?;
        let state = MessageState::from_stat(&stat.to_ascii_uppercase())
            .ok_or_else(|| format!("unknown receipt state {stat:?} (DELIVRD, UNDELIV, …)"))?;
        out.push((state, parse_percent(weight, 1e6)?));
    }
    if out.iter().all(|(_, w)| *w == 0) {
        return Err(format!("receipt states {s:?} have no weight"));
    }
    Ok(out)
}

/// `MIN` or `MIN-MAX` milliseconds.
///
/// # Errors
/// Not numbers, or MAX < MIN.
pub fn parse_delay(s: &str) -> Result<DelayRange, String> {
    let s = s.trim();
    let ms = |v: &str| {
        v.trim()
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| format!("bad milliseconds {v:?}"))
    };
    let (min, max) = match s.split_once('-') {
        Some((a, b)) => (ms(a)?, ms(b)?),
        None => (ms(s)?, ms(s)?),
    };
    if max < min {
        return Err(format!("delay {s:?}: MAX below MIN"));
    }
    Ok(DelayRange { min, max })
}

/// `ID:PASSWORD`.
///
/// # Errors
/// No colon.
pub fn parse_account(s: &str) -> Result<(String, String), String> {
    s.split_once(':')
        .map(|(id, pw)| (id.to_owned(), pw.to_owned()))
        .ok_or_else(|| format!("account {s:?}: expected SYSTEM_ID:PASSWORD"))
}

/// `N/s` or `N`.
///
/// # Errors
/// Not a number.
pub fn parse_rate(s: &str) -> Result<u32, String> {
    let s = s.trim();
    s.strip_suffix("/s")
        .unwrap_or(s)
        .trim()
        .parse()
        .map_err(|_| format!("bad rate {s:?} (N/s)"))
}

/// Picks from `(item, weight)` by weight; `None` when empty or all zero.
pub(crate) fn pick<T: Copy>(items: &[(T, u32)]) -> Option<T> {
    let total: u32 = items.iter().map(|(_, w)| *w).sum();
    if total == 0 {
        return None;
    }
    let mut draw = fastrand::u32(0..total);
    for (item, weight) in items {
        if draw < *weight {
            return Some(*item);
        }
        draw -= weight;
    }
    None
}

/// Draws an injected status from `rates` (basis points of all submits); `None`: answer
/// normally.
pub(crate) fn draw_error<T: Copy>(rates: &[(T, u32)]) -> Option<T> {
    if rates.is_empty() {
        return None;
    }
    let mut draw = fastrand::u32(0..BASIS);
    for (status, share) in rates {
        if draw < *share {
            return Some(*status);
        }
        draw -= share;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsers() {
        assert_eq!(
            parse_error_rate("esme_rthrottled=1,88=2,0X14=3"),
            Ok(vec![
                (CommandStatus::ESME_RTHROTTLED, 100),
                (CommandStatus::ESME_RTHROTTLED, 200),
                (CommandStatus::ESME_RMSGQFUL, 300)
            ])
        );
        assert_eq!(
            parse_error_rate("ESME_NOPE=1"),
            Err(unknown_status("ESME_NOPE"))
        );
        assert_eq!(
            parse_error_rate("ESME_RTHROTTLED=10,0x14=2.5"),
            Ok(vec![
                (CommandStatus(0x58), 1000),
                (CommandStatus(0x14), 250)
            ])
        );
        assert!(parse_error_rate("0x58=60,0x14=50").is_err());
        assert_eq!(
            parse_result_rate("8=10,13=2.5"),
            Ok(vec![(8, 1000), (13, 250)])
        );
        assert!(parse_result_rate("0=1").is_err());
        assert!(parse_result_rate("256=1").is_err());
        assert!(parse_result_rate("8=60,9=50").is_err());
        assert_eq!(
            parse_delay("10-20"),
            Ok(DelayRange {
                min: Duration::from_millis(10),
                max: Duration::from_millis(20)
            })
        );
        assert!(parse_delay("20-10").is_err());
        assert_eq!(
            parse_states("DELIVRD=90,undeliv=10").map(|v| v.len()),
            Ok(2)
        );
        assert_eq!(parse_rate("5/s"), Ok(5));
    }

    #[test]
    fn weighted_pick_follows_weights() {
        let items = [(1, 9000), (2, 1000)];
        let twos = (0..10_000).filter(|_| pick(&items) == Some(2)).count();
        assert!((800..1200).contains(&twos), "{twos}");
    }
}
