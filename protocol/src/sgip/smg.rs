//! The carrier side (SMG) of SGIP, sans-IO: what a simulated China Unicom gateway checks in
//! a Submit, which Reports it owes, and the Report and Deliver it sends back on the
//! connection it opens to the SP. The links themselves are the [`super::session`] pair: an
//! [`super::session::Acceptor`] for the SP's Bind (LoginType 1) and an
//! [`super::session::Initiator`] with [`super::session::Role::Smg`] for the report link.

use bytes::Bytes;

use super::{
    Body, Deliver, RESULT_BAD_FORMAT, RESULT_BAD_LENGTH, RESULT_BAD_NUMBER, RESULT_OK, Report,
    Sequence, Submit, report_state,
};

/// Longest MessageContent of one Submit (SGIP 1.2 §4.2.3.3: MessageLength ≤ 160).
pub const MAX_CONTENT: usize = 160;

/// ReportFlag (§4.2.3.3).
pub mod report_flag {
    /// A Report only when the message finally failed.
    pub const ON_ERROR: u8 = 0;
    /// A Report whatever the outcome.
    pub const ALWAYS: u8 = 1;
    /// No Report.
    pub const NEVER: u8 = 2;
    /// Charging information only (monthly fee): no Report.
    pub const CHARGE_ONLY: u8 = 3;
}

/// The Result a structurally valid Submit gets from the rules every SMG applies (numbers,
/// length, the UDH a TP_udhi of 1 announces); 0 when none is broken.
#[must_use]
pub fn check_submit(submit: &Submit) -> u8 {
    let is_number = |n: &Bytes| !n.is_empty() && n.iter().all(u8::is_ascii_digit);
    if !submit.user_numbers.iter().all(is_number) {
        return RESULT_BAD_NUMBER;
    }
    if submit.message_content.len() > MAX_CONTENT {
        return RESULT_BAD_LENGTH;
    }
    if submit.tp_udhi == 1 {
        // The UDH's own length octet must fit in the content.
        let fits = submit
            .message_content
            .first()
            .is_some_and(|udhl| usize::from(*udhl) < submit.message_content.len());
        if !fits {
            return RESULT_BAD_FORMAT;
        }
    }
    RESULT_OK
}

/// Whether a Submit with `report_flag` gets a Report when its final state is `state`
/// ([`report_state`]).
#[must_use]
pub const fn report_owed(report_flag: u8, state: u8) -> bool {
    match report_flag {
        report_flag::ALWAYS => true,
        report_flag::ON_ERROR => state == report_state::FAILED,
        _ => false,
    }
}

/// The Report about the Submit with `submit_sequence` for `user_number`.
#[must_use]
pub fn report(submit_sequence: Sequence, user_number: Bytes, state: u8, error_code: u8) -> Body {
    Body::Report(Report {
        submit_sequence,
        report_type: 0,
        user_number,
        state,
        error_code,
        reserve: Bytes::new(),
    })
}

/// An MO Deliver from `user_number` to `sp_number`.
#[must_use]
pub fn mo(user_number: Bytes, sp_number: Bytes, message_coding: u8, content: Bytes) -> Body {
    Body::Deliver(Deliver {
        user_number,
        sp_number,
        tp_pid: 0,
        tp_udhi: 0,
        message_coding,
        message_content: content,
        reserve: Bytes::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn submit(numbers: &[&'static [u8]], udhi: u8, content: &'static [u8]) -> Submit {
        Submit {
            sp_number: Bytes::from_static(b"10655"),
            charge_number: Bytes::new(),
            user_numbers: numbers.iter().map(|n| Bytes::from_static(n)).collect(),
            corp_id: Bytes::new(),
            service_type: Bytes::new(),
            fee_type: 1,
            fee_value: Bytes::new(),
            given_value: Bytes::new(),
            agent_flag: 0,
            morelateto_mt_flag: 2,
            priority: 0,
            expire_time: Bytes::new(),
            schedule_time: Bytes::new(),
            report_flag: 1,
            tp_pid: 0,
            tp_udhi: udhi,
            message_coding: 8,
            message_type: 0,
            message_content: Bytes::from_static(content),
            reserve: Bytes::new(),
        }
    }

    #[test]
    fn submit_rules() {
        assert_eq!(
            check_submit(&submit(&[b"8613000000000"], 0, b"hi")),
            RESULT_OK
        );
        assert_eq!(
            check_submit(&submit(&[b"8613000000000", b"86130x"], 0, b"hi")),
            RESULT_BAD_NUMBER
        );
        assert_eq!(
            check_submit(&submit(&[b"86130"], 0, &[0; 161])),
            RESULT_BAD_LENGTH
        );
        assert_eq!(
            check_submit(&submit(&[b"86130"], 1, &[5, 0, 3])),
            RESULT_BAD_FORMAT
        );
        assert_eq!(
            check_submit(&submit(&[b"86130"], 1, &[5, 0, 3, 1, 2, 1, 0x4f])),
            RESULT_OK
        );
    }

    #[test]
    fn reports_follow_the_report_flag() {
        use report_state::{DELIVERED, FAILED};
        assert!(report_owed(report_flag::ALWAYS, DELIVERED));
        assert!(report_owed(report_flag::ON_ERROR, FAILED));
        assert!(!report_owed(report_flag::ON_ERROR, DELIVERED));
        assert!(!report_owed(report_flag::NEVER, FAILED));
        assert!(!report_owed(report_flag::CHARGE_ONLY, FAILED));
    }
}
