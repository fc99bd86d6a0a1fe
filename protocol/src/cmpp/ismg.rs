//! The carrier side (ISMG) of one CMPP link, sans-IO: what a simulator or a test peer
//! answers to what an SP sends. It checks CONNECT (version, Source_Addr, the
//! AuthenticatorSource against the account's secret) and signs its answer with
//! AuthenticatorISMG, gives every accepted SUBMIT a 64-bit Msg_Id, says which status
//! reports are owed, builds the report DELIVERs through a window, and answers ACTIVE_TEST,
//! QUERY, CANCEL and TERMINATE. The caller owns the socket, the clock (every call takes the
//! time) and the queue of owed reports.

use std::collections::VecDeque;

use bytes::Bytes;

use super::pdu::{
    ActiveTestResp, Body, CancelResp, ConnectResp, Deliver, Pdu, QueryResp, SubmitResp,
};
use super::{MsgId, StatusReport, Version, authenticator_ismg, authenticator_source};
use crate::china::auth::same;
use crate::receipt::ReceiptDate;

/// CONNECT_RESP Status 2: unknown Source_Addr.
pub const STATUS_BAD_SOURCE_ADDR: u32 = 2;
/// CONNECT_RESP Status 4: a version this link does not speak.
pub const STATUS_BAD_VERSION: u32 = 4;
/// SUBMIT_RESP Result 1: bad message structure (Pk_total / Pk_number out of range).
pub const RESULT_BAD_STRUCTURE: u32 = 1;
/// SUBMIT_RESP Result 6: message longer than 140 octets.
pub const RESULT_TOO_LONG: u32 = 6;

/// Longest Msg_Content of one SUBMIT (one SMS) in 8-bit formats (CMPP 3.0 §7.4.3.3
/// Msg_Length: "≤ 140 when Msg_Fmt is not 0").
const MAX_CONTENT: usize = 140;
/// Longest Msg_Content in Msg_Fmt 0 (ASCII, which the ISMG packs into 7-bit septets):
/// "< 160 octets" (the same table).
const MAX_CONTENT_ASCII: usize = 159;

/// An ISMG link's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsmgConfig {
    /// The link's version; a CONNECT of another major version gets Status 4.
    pub version: Version,
    /// Who may log in: (Source_Addr, shared secret). Empty: anyone, unchecked.
    pub accounts: Vec<(Bytes, Bytes)>,
    /// The gateway id (22 bits) written into every Msg_Id.
    pub gateway_id: u32,
    /// Report DELIVERs sent and not answered yet, at most.
    pub window: usize,
    /// A report DELIVER unanswered this long (ms) is given back by
    /// [`Ismg::handle_timeout`] to be sent again (CMPP's T: 60 s).
    pub response_timeout_ms: u64,
    /// Sends of one report at most, then it is dropped (CMPP's N: 3).
    pub max_tries: u8,
}

/// What the caller must do after a packet.
// A handful live at a time in one reused Vec: boxing the packet would cost an allocation
// per answer for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write this packet.
    Send(Pdu),
    /// A status report is owed for this accepted SUBMIT (one per destination): keep it and
    /// hand it to [`Ismg::report`] when it is due.
    Owe(OwedReport),
    /// Close the connection (after writing what came before), for this reason.
    Close(&'static str),
}

/// A status report owed to the SP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwedReport {
    /// The SUBMIT_RESP's Msg_Id.
    pub msg_id: u64,
    /// The destination the report is about.
    pub dest_terminal_id: Bytes,
    /// The SUBMIT's Src_Id: the report's Dest_Id.
    pub src_id: Bytes,
    /// The SUBMIT's Service_Id.
    pub service_id: Bytes,
    /// YYMMDDHHMM of the submit.
    pub submit_time: [u8; 10],
    /// Sends so far (0 until it first goes out).
    pub tries: u8,
}

/// Counts of one link (for QUERY and for the caller's counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IsmgCounts {
    /// SUBMITs answered with Result 0.
    pub accepted: u32,
    /// SUBMITs answered with another Result.
    pub refused: u32,
}

/// One ISMG link.
#[derive(Debug)]
pub struct Ismg {
    config: IsmgConfig,
    /// The Source_Addr that logged in.
    login: Option<Bytes>,
    /// Msg_Id sequence within the second.
    msg_sequence: u16,
    next_sequence_id: u32,
    /// DELIVERs sent and unanswered: Sequence_Id, when sent (ms), the report (`None`: an
    /// MO, not sent again).
    in_flight: VecDeque<(u32, u64, Option<OwedReport>)>,
    counts: IsmgCounts,
}

/// What [`Ismg::handle_timeout`] found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Expired {
    /// Reports to send again (their `tries` counts the sends so far).
    pub retry: Vec<OwedReport>,
    /// Reports sent `max_tries` times, and MO sent once, without an answer: given up.
    pub dropped: usize,
}

/// YYMMDDHHMM.
#[must_use]
pub fn yymmddhhmm(date: &ReceiptDate) -> [u8; 10] {
    let mut out = [b'0'; 10];
    let parts = [
        (date.year % 100) as u8,
        date.month,
        date.day,
        date.hour,
        date.minute,
    ];
    for (slot, value) in out.chunks_exact_mut(2).zip(parts) {
        slot[0] = b'0' + (value / 10) % 10;
        slot[1] = b'0' + value % 10;
    }
    out
}

impl Ismg {
    /// A link waiting for CONNECT.
    #[must_use]
    pub const fn new(config: IsmgConfig) -> Self {
        Self {
            config,
            login: None,
            msg_sequence: 0,
            next_sequence_id: 1,
            in_flight: VecDeque::new(),
            counts: IsmgCounts {
                accepted: 0,
                refused: 0,
            },
        }
    }

    /// The Source_Addr logged in, if any.
    #[must_use]
    pub fn login(&self) -> Option<&Bytes> {
        self.login.as_ref()
    }

    /// The link's counts.
    #[must_use]
    pub const fn counts(&self) -> IsmgCounts {
        self.counts
    }

    /// Report DELIVERs sent and not answered.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Whether [`Ismg::report`] would send now (logged in, window not full).
    #[must_use]
    pub fn can_report(&self) -> bool {
        self.login.is_some() && self.in_flight.len() < self.config.window
    }

    fn sequence_id(&mut self) -> u32 {
        let id = self.next_sequence_id;
        self.next_sequence_id = self.next_sequence_id.wrapping_add(1).max(1);
        id
    }

    fn msg_id(&mut self, now: &ReceiptDate) -> u64 {
        let sequence = self.msg_sequence;
        self.msg_sequence = self.msg_sequence.wrapping_add(1);
        MsgId {
            month: now.month,
            day: now.day,
            hour: now.hour,
            minute: now.minute,
            second: now.second,
            gateway_id: self.config.gateway_id,
            sequence,
        }
        .to_u64()
    }

    /// Handles one packet from the SP at `now`. `submit_result` is the Result a valid
    /// SUBMIT gets (0, or what the caller injects: 8 when its report queue is full or
    /// throttled); a malformed SUBMIT gets its own Result whatever this says.
    pub fn handle(
        &mut self,
        pdu: Pdu,
        now: &ReceiptDate,
        submit_result: u32,
        out: &mut Vec<Action>,
    ) {
        let sequence_id = pdu.sequence_id;
        let reply = |body| Action::Send(Pdu { sequence_id, body });
        if self.login.is_none() && !matches!(pdu.body, Body::Connect(_)) {
            out.push(Action::Close("a packet before CONNECT"));
            return;
        }
        match pdu.body {
            Body::Connect(connect) => {
                if self.login.is_some() {
                    out.push(Action::Close("a second CONNECT"));
                    return;
                }
                let (status, secret) = self.check_connect(&connect);
                let authenticator = authenticator_ismg(
                    self.config.version,
                    status,
                    &connect.authenticator_source,
                    &secret,
                );
                out.push(reply(Body::ConnectResp(ConnectResp {
                    status,
                    authenticator_ismg: authenticator,
                    version: self.config.version.octet(),
                })));
                if status == 0 {
                    self.login = Some(connect.source_addr);
                } else {
                    out.push(Action::Close("CONNECT refused"));
                }
            }
            Body::Submit(submit) => {
                let result = if submit.pk_total == 0
                    || submit.pk_number == 0
                    || submit.pk_number > submit.pk_total
                {
                    RESULT_BAD_STRUCTURE
                } else if submit.msg_content.len()
                    > if submit.msg_fmt == 0 {
                        MAX_CONTENT_ASCII
                    } else {
                        MAX_CONTENT
                    }
                {
                    RESULT_TOO_LONG
                } else {
                    submit_result
                };
                let msg_id = if result == 0 { self.msg_id(now) } else { 0 };
                out.push(reply(Body::SubmitResp(SubmitResp { msg_id, result })));
                if result != 0 {
                    self.counts.refused = self.counts.refused.saturating_add(1);
                    return;
                }
                self.counts.accepted = self.counts.accepted.saturating_add(1);
                if submit.registered_delivery == 1 {
                    let submit_time = yymmddhhmm(now);
                    for dest in submit.dest_terminal_ids {
                        out.push(Action::Owe(OwedReport {
                            msg_id,
                            dest_terminal_id: dest,
                            src_id: submit.src_id.clone(),
                            service_id: submit.service_id.clone(),
                            submit_time,
                            tries: 0,
                        }));
                    }
                }
            }
            Body::DeliverResp(_) => {
                // An answer to nothing we sent (or answered twice) is ignored.
                if let Some(at) = self.in_flight.iter().position(|(s, ..)| *s == sequence_id) {
                    self.in_flight.remove(at);
                }
            }
            Body::ActiveTest => out.push(reply(Body::ActiveTestResp(ActiveTestResp::default()))),
            Body::ActiveTestResp(_) | Body::TerminateResp => {}
            Body::Terminate => {
                out.push(reply(Body::TerminateResp));
                out.push(Action::Close("TERMINATE"));
            }
            Body::Query(query) => out.push(reply(Body::QueryResp(QueryResp {
                time: query.time,
                query_type: query.query_type,
                query_code: query.query_code,
                mt_tlmsg: self.counts.accepted.saturating_add(self.counts.refused),
                mt_tlusr: 0,
                mt_scs: self.counts.accepted,
                mt_wt: 0,
                mt_fl: self.counts.refused,
                mo_scs: 0,
                mo_wt: 0,
                mo_fl: 0,
            }))),
            // Every message is delivered at once: nothing is left to cancel.
            Body::Cancel(_) => out.push(reply(Body::CancelResp(CancelResp { success_id: 1 }))),
            _ => out.push(Action::Close("a packet only an ISMG sends")),
        }
    }

    /// Status and secret for a CONNECT: the secret is the account's (empty when unknown or
    /// when any SP may log in).
    fn check_connect(&self, connect: &super::Connect) -> (u32, Bytes) {
        let major = match self.config.version {
            Version::V2 => 0x2,
            Version::V3 => 0x3,
        };
        if connect.version >> 4 != major {
            return (STATUS_BAD_VERSION, Bytes::new());
        }
        if self.config.accounts.is_empty() {
            return (0, Bytes::new());
        }
        let Some((_, secret)) = self
            .config
            .accounts
            .iter()
            .find(|(name, _)| *name == connect.source_addr)
        else {
            return (STATUS_BAD_SOURCE_ADDR, Bytes::new());
        };
        let expected = authenticator_source(&connect.source_addr, secret, connect.timestamp);
        if same(&expected, &connect.authenticator_source) {
            (0, secret.clone())
        } else {
            (super::STATUS_AUTH_FAILED, secret.clone())
        }
    }

    /// The status-report DELIVER for `owed` with final state `stat` (DELIVRD, UNDELIV, …,
    /// at most 7 octets) done at `now`; `None` while [`Ismg::can_report`] is false (keep
    /// it and try again after a DELIVER_RESP).
    #[must_use]
    pub fn report(
        &mut self,
        owed: &OwedReport,
        stat: &[u8],
        now: &ReceiptDate,
        now_ms: u64,
    ) -> Option<Pdu> {
        if !self.can_report() {
            return None;
        }
        let terminal = self.config.version.terminal_id_len();
        let cut = |b: &Bytes, n: usize| b.slice(..b.len().min(n));
        let report = StatusReport {
            msg_id: owed.msg_id,
            stat: Bytes::copy_from_slice(&stat[..stat.len().min(7)]),
            submit_time: Bytes::copy_from_slice(&owed.submit_time),
            done_time: Bytes::copy_from_slice(&yymmddhhmm(now)),
            dest_terminal_id: cut(&owed.dest_terminal_id, terminal),
            smsc_sequence: 0,
        };
        // Every field was cut to its width above: encoding cannot fail.
        let content = report.to_bytes(self.config.version).ok()?;
        let msg_id = self.msg_id(now);
        let sequence_id = self.sequence_id();
        let mut sent = owed.clone();
        sent.tries = sent.tries.saturating_add(1);
        self.in_flight.push_back((sequence_id, now_ms, Some(sent)));
        Some(Pdu {
            sequence_id,
            body: Body::Deliver(Deliver {
                msg_id,
                dest_id: cut(&owed.src_id, 21),
                service_id: cut(&owed.service_id, 10),
                tp_pid: 0,
                tp_udhi: 0,
                msg_fmt: 0,
                src_terminal_id: cut(&owed.dest_terminal_id, terminal),
                src_terminal_type: 0,
                registered_delivery: 1,
                msg_content: content,
                link_id: Bytes::new(),
                reserve: Bytes::new(),
            }),
        })
    }

    /// An MO DELIVER (Registered_Delivery 0) from subscriber `from` to the SP logged in,
    /// Msg_Fmt `msg_fmt` (0 ASCII, 8 UCS-2, 15 GBK), at `now`; it takes a place in the
    /// window until its DELIVER_RESP. `None` while [`Ismg::can_report`] is false, or when
    /// `content` is over 140 octets or `from` over the terminal id's width.
    #[must_use]
    pub fn mo(
        &mut self,
        from: &[u8],
        msg_fmt: u8,
        content: Bytes,
        now: &ReceiptDate,
        now_ms: u64,
    ) -> Option<Pdu> {
        if !self.can_report()
            || content.len() > 140
            || from.len() > self.config.version.terminal_id_len()
        {
            return None;
        }
        let dest_id = self.login.clone()?;
        let msg_id = self.msg_id(now);
        let sequence_id = self.sequence_id();
        self.in_flight.push_back((sequence_id, now_ms, None));
        Some(Pdu {
            sequence_id,
            body: Body::Deliver(Deliver {
                msg_id,
                dest_id,
                service_id: Bytes::new(),
                tp_pid: 0,
                tp_udhi: 0,
                msg_fmt,
                src_terminal_id: Bytes::copy_from_slice(from),
                src_terminal_type: 0,
                registered_delivery: 0,
                msg_content: content,
                link_id: Bytes::new(),
                reserve: Bytes::new(),
            }),
        })
    }

    /// When (ms) the oldest unanswered report DELIVER times out.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<u64> {
        self.in_flight
            .front()
            .map(|(_, sent, _)| sent.saturating_add(self.config.response_timeout_ms))
    }

    /// Takes the report DELIVERs unanswered since `response_timeout_ms` before `now_ms`
    /// out of the window: to send again, or dropped after `max_tries` sends.
    pub fn handle_timeout(&mut self, now_ms: u64) -> Expired {
        let mut expired = Expired::default();
        while let Some((_, sent, _)) = self.in_flight.front() {
            if sent.saturating_add(self.config.response_timeout_ms) > now_ms {
                break;
            }
            match self.in_flight.pop_front() {
                Some((_, _, Some(owed))) if owed.tries < self.config.max_tries => {
                    expired.retry.push(owed);
                }
                Some(_) => expired.dropped += 1,
                None => {}
            }
        }
        expired
    }

    /// A TERMINATE to send when the ISMG closes the link.
    pub fn terminate(&mut self) -> Pdu {
        Pdu {
            sequence_id: self.sequence_id(),
            body: Body::Terminate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmpp::{Connect, STATUS_AUTH_FAILED, Submit, check_authenticator_ismg};

    const NOW: ReceiptDate = ReceiptDate {
        year: 2026,
        month: 12,
        day: 6,
        hour: 9,
        minute: 5,
        second: 7,
    };

    fn ismg(version: Version) -> Ismg {
        Ismg::new(IsmgConfig {
            version,
            accounts: vec![(Bytes::from_static(b"900001"), Bytes::from_static(b"888888"))],
            gateway_id: 42,
            window: 1,
            response_timeout_ms: 60_000,
            max_tries: 2,
        })
    }

    fn connect(version: Version, name: &'static [u8], secret: &[u8]) -> (Pdu, [u8; 16]) {
        let authenticator = authenticator_source(name, secret, 1_206_090_507);
        let pdu = Pdu {
            sequence_id: 1,
            body: Body::Connect(Connect {
                source_addr: Bytes::from_static(name),
                authenticator_source: authenticator,
                version: version.octet(),
                timestamp: 1_206_090_507,
            }),
        };
        (pdu, authenticator)
    }

    /// A link `900001` has logged in on.
    fn logged_in(version: Version) -> Ismg {
        let mut link = ismg(version);
        let mut out = Vec::new();
        link.handle(connect(version, b"900001", b"888888").0, &NOW, 0, &mut out);
        assert!(link.login().is_some(), "{out:?}");
        link
    }

    fn submit(pk_total: u8, pk_number: u8, dests: &[&'static [u8]]) -> Pdu {
        Pdu {
            sequence_id: 7,
            body: Body::Submit(Submit {
                msg_id: 0,
                pk_total,
                pk_number,
                registered_delivery: 1,
                msg_level: 0,
                service_id: Bytes::from_static(b"TEST"),
                fee_user_type: 2,
                fee_terminal_id: Bytes::new(),
                fee_terminal_type: 0,
                tp_pid: 0,
                tp_udhi: 0,
                msg_fmt: 8,
                msg_src: Bytes::from_static(b"900001"),
                fee_type: Bytes::from_static(b"01"),
                fee_code: Bytes::from_static(b"000000"),
                valid_time: Bytes::new(),
                at_time: Bytes::new(),
                src_id: Bytes::from_static(b"1069000"),
                dest_terminal_ids: dests.iter().map(|d| Bytes::from_static(d)).collect(),
                dest_terminal_type: 0,
                msg_content: Bytes::from_static(&[0x4f, 0x60, 0x59, 0x7d]),
                link_id: Bytes::new(),
                reserve: Bytes::new(),
            }),
        }
    }

    fn connect_status(out: &[Action]) -> u32 {
        match &out[0] {
            Action::Send(Pdu {
                body: Body::ConnectResp(resp),
                ..
            }) => resp.status,
            other => panic!("not a CONNECT_RESP: {other:?}"),
        }
    }

    #[test]
    fn connect_checks_the_authenticator_and_signs_the_answer() {
        for version in [Version::V2, Version::V3] {
            let mut link = ismg(version);
            let (pdu, authenticator) = connect(version, b"900001", b"888888");
            let mut out = Vec::new();
            link.handle(pdu, &NOW, 0, &mut out);
            assert_eq!(out.len(), 1, "{out:?}");
            let Action::Send(Pdu {
                body: Body::ConnectResp(resp),
                sequence_id: 1,
            }) = &out[0]
            else {
                panic!("{out:?}")
            };
            assert_eq!(resp.status, 0);
            assert!(check_authenticator_ismg(
                version,
                resp,
                &authenticator,
                b"888888"
            ));
            assert_eq!(link.login().map(|b| &b[..]), Some(&b"900001"[..]));
        }
    }

    #[test]
    fn refused_connects_get_their_status_and_close() {
        let cases: [(&'static [u8], &[u8], Version, u32); 3] = [
            (b"900001", b"888889", Version::V2, STATUS_AUTH_FAILED),
            (b"900002", b"888888", Version::V2, STATUS_BAD_SOURCE_ADDR),
            (b"900001", b"888888", Version::V3, STATUS_BAD_VERSION),
        ];
        for (name, secret, client_version, status) in cases {
            let mut link = ismg(Version::V2);
            let (pdu, _) = connect(client_version, name, secret);
            let mut out = Vec::new();
            link.handle(pdu, &NOW, 0, &mut out);
            assert_eq!(connect_status(&out), status, "{name:?}");
            assert_eq!(out[1], Action::Close("CONNECT refused"));
            assert!(link.login().is_none());
        }
    }

    #[test]
    fn a_submit_before_connect_closes() {
        let mut link = ismg(Version::V3);
        let mut out = Vec::new();
        link.handle(submit(1, 1, &[b"13800138000"]), &NOW, 0, &mut out);
        assert_eq!(out, vec![Action::Close("a packet before CONNECT")]);
    }

    #[test]
    fn submit_gets_a_dated_msg_id_and_owes_one_report_per_destination() {
        let mut link = logged_in(Version::V3);
        let mut out = Vec::new();
        link.handle(
            submit(1, 1, &[b"13800138000", b"13900139000"]),
            &NOW,
            0,
            &mut out,
        );
        let Action::Send(Pdu {
            sequence_id: 7,
            body: Body::SubmitResp(resp),
        }) = &out[0]
        else {
            panic!("{out:?}")
        };
        assert_eq!(resp.result, 0);
        let id = MsgId::from_u64(resp.msg_id);
        assert_eq!(
            (
                id.month,
                id.day,
                id.hour,
                id.minute,
                id.second,
                id.gateway_id
            ),
            (12, 6, 9, 5, 7, 42)
        );
        let owed: Vec<&OwedReport> = out
            .iter()
            .filter_map(|a| match a {
                Action::Owe(o) => Some(o),
                _ => None,
            })
            .collect();
        assert_eq!(owed.len(), 2);
        assert!(owed.iter().all(|o| o.msg_id == resp.msg_id));
        assert_eq!(&owed[0].submit_time, b"2612060905");
        let first = resp.msg_id;

        // A second submit in the same second gets another id.
        out.clear();
        link.handle(submit(1, 1, &[b"13800138000"]), &NOW, 0, &mut out);
        let Action::Send(Pdu {
            body: Body::SubmitResp(second),
            ..
        }) = &out[0]
        else {
            panic!("{out:?}")
        };
        assert_ne!(second.msg_id, first);
    }

    #[test]
    fn malformed_or_refused_submits_get_a_result_and_owe_nothing() {
        let mut link = logged_in(Version::V2);
        let mut out = Vec::new();
        for (pdu, injected, result) in [
            (submit(2, 3, &[b"1"]), 0, RESULT_BAD_STRUCTURE),
            (submit(0, 0, &[b"1"]), 0, RESULT_BAD_STRUCTURE),
            (submit(1, 1, &[b"1"]), 8, 8),
            (with_content(8, 141), 0, RESULT_TOO_LONG),
            (with_content(0, 160), 0, RESULT_TOO_LONG),
        ] {
            out.clear();
            link.handle(pdu, &NOW, injected, &mut out);
            assert_eq!(
                out,
                vec![Action::Send(Pdu {
                    sequence_id: 7,
                    body: Body::SubmitResp(SubmitResp { msg_id: 0, result })
                })]
            );
        }
        assert_eq!(link.counts().refused, 5);
        // Msg_Fmt 0 (ASCII) may take up to 159 octets, the others 140 (§7.4.3.3).
        for (format, len) in [(0, 159), (8, 140)] {
            out.clear();
            link.handle(with_content(format, len), &NOW, 0, &mut out);
            assert!(
                matches!(
                    &out[0],
                    Action::Send(Pdu {
                        body: Body::SubmitResp(SubmitResp { result: 0, .. }),
                        ..
                    })
                ),
                "{out:?}"
            );
        }
    }

    /// A one-part SUBMIT of `len` octets in Msg_Fmt `format`.
    fn with_content(format: u8, len: usize) -> Pdu {
        let mut pdu = submit(1, 1, &[b"1"]);
        if let Body::Submit(submit) = &mut pdu.body {
            submit.msg_fmt = format;
            submit.msg_content = Bytes::from(vec![b'a'; len]);
        }
        pdu
    }

    #[test]
    fn reports_go_through_the_window() {
        let mut link = logged_in(Version::V2);
        let mut out = Vec::new();
        link.handle(submit(1, 1, &[b"13800138000"]), &NOW, 0, &mut out);
        let Action::Owe(owed) = out[1].clone() else {
            panic!("{out:?}")
        };
        let deliver = link
            .report(&owed, b"DELIVRD", &NOW, 0)
            .expect("window open");
        let Body::Deliver(d) = &deliver.body else {
            panic!("{deliver:?}")
        };
        assert_eq!(d.registered_delivery, 1);
        let report = StatusReport::parse(&d.msg_content, Version::V2).unwrap();
        assert_eq!(report.msg_id, owed.msg_id);
        assert_eq!(&report.stat[..], b"DELIVRD");
        assert_eq!(&report.done_time[..], b"2612060905");
        assert_eq!(&report.dest_terminal_id[..], b"13800138000");
        // Window of 1: the next waits for the DELIVER_RESP.
        assert!(link.report(&owed, b"DELIVRD", &NOW, 0).is_none());
        out.clear();
        link.handle(
            Pdu {
                sequence_id: deliver.sequence_id,
                body: Body::DeliverResp(crate::cmpp::DeliverResp {
                    msg_id: d.msg_id,
                    result: 0,
                }),
            },
            &NOW,
            0,
            &mut out,
        );
        assert!(out.is_empty());
        assert!(link.report(&owed, b"DELIVRD", &NOW, 0).is_some());
    }

    #[test]
    fn active_test_and_terminate_are_answered() {
        let mut link = logged_in(Version::V3);
        let mut out = Vec::new();
        let pdu = |sequence_id, body| Pdu { sequence_id, body };
        link.handle(pdu(5, Body::ActiveTest), &NOW, 0, &mut out);
        link.handle(pdu(6, Body::Terminate), &NOW, 0, &mut out);
        assert_eq!(
            out,
            vec![
                Action::Send(pdu(5, Body::ActiveTestResp(ActiveTestResp::default()))),
                Action::Send(pdu(6, Body::TerminateResp)),
                Action::Close("TERMINATE"),
            ]
        );
    }
}

#[cfg(test)]
mod timeout_tests {
    use super::*;

    const NOW: ReceiptDate = ReceiptDate {
        year: 2026,
        month: 12,
        day: 6,
        hour: 9,
        minute: 0,
        second: 0,
    };

    /// A logged-in link with a window of 4 and a 1 s response timeout.
    fn open_link(version: Version, max_tries: u8) -> Ismg {
        let mut link = Ismg::new(IsmgConfig {
            version,
            accounts: Vec::new(),
            gateway_id: 1,
            window: 4,
            response_timeout_ms: 1_000,
            max_tries,
        });
        link.login = Some(Bytes::from_static(b"900001"));
        link
    }

    fn owed(msg_id: u64) -> OwedReport {
        OwedReport {
            msg_id,
            dest_terminal_id: Bytes::from_static(b"13800138000"),
            src_id: Bytes::new(),
            service_id: Bytes::new(),
            submit_time: *b"2612060900",
            tries: 0,
        }
    }

    #[test]
    fn unanswered_reports_come_back_then_are_dropped() {
        let mut link = open_link(Version::V2, 2);
        assert!(link.report(&owed(7), b"DELIVRD", &NOW, 0).is_some());
        assert_eq!(link.poll_timeout(), Some(1_000));
        assert_eq!(link.handle_timeout(999), Expired::default());
        let expired = link.handle_timeout(1_000);
        assert_eq!(expired.dropped, 0);
        assert_eq!(expired.retry.len(), 1);
        assert_eq!(expired.retry[0].tries, 1);
        assert_eq!(link.in_flight(), 0);
        // Second send, unanswered again: max_tries 2 reached, dropped.
        let again = link.report(&expired.retry[0], b"DELIVRD", &NOW, 1_500);
        assert!(again.is_some());
        assert_eq!(
            link.handle_timeout(2_500),
            Expired {
                retry: Vec::new(),
                dropped: 1
            }
        );
        assert_eq!(link.poll_timeout(), None);
    }

    #[test]
    fn an_answer_frees_its_own_slot_only() {
        let mut link = open_link(Version::V3, 3);
        let first = link.report(&owed(1), b"DELIVRD", &NOW, 0).unwrap();
        let _second = link.report(&owed(2), b"DELIVRD", &NOW, 10).unwrap();
        let resp = |sequence_id| Pdu {
            sequence_id,
            body: Body::DeliverResp(crate::cmpp::DeliverResp {
                msg_id: 0,
                result: 0,
            }),
        };
        let mut out = Vec::new();
        link.handle(resp(9_999), &NOW, 0, &mut out);
        assert_eq!(link.in_flight(), 2, "an answer to nothing frees nothing");
        link.handle(resp(first.sequence_id), &NOW, 0, &mut out);
        link.handle(resp(first.sequence_id), &NOW, 0, &mut out);
        assert_eq!(link.in_flight(), 1);
        assert_eq!(
            link.poll_timeout(),
            Some(1_010),
            "the second is the oldest now"
        );
        assert!(out.is_empty());
    }

    #[test]
    fn mo_takes_a_window_place_and_is_not_sent_again() {
        let mut link = open_link(Version::V3, 3);
        let pdu = link
            .mo(
                b"13300000001",
                8,
                Bytes::from_static(&[0x90, 0x00]),
                &NOW,
                0,
            )
            .expect("an MO");
        let Body::Deliver(deliver) = &pdu.body else {
            panic!("{pdu:?}")
        };
        assert_eq!(deliver.registered_delivery, 0);
        assert_eq!(deliver.msg_fmt, 8);
        assert_eq!(&deliver.dest_id[..], b"900001", "to the SP logged in");
        assert_eq!(&deliver.src_terminal_id[..], b"13300000001");
        assert_eq!(link.in_flight(), 1);
        assert_eq!(
            link.handle_timeout(1_000),
            Expired {
                retry: Vec::new(),
                dropped: 1
            },
            "an unanswered MO is given up, not sent again"
        );
        // Over 140 octets, or a number wider than the terminal id: not sent.
        let long = Bytes::from(vec![b'a'; 141]);
        assert!(link.mo(b"1", 0, long, &NOW, 0).is_none());
        assert!(link.mo(&[b'1'; 33], 0, Bytes::new(), &NOW, 0).is_none());
        // Not before login.
        let mut fresh = open_link(Version::V2, 3);
        fresh.login = None;
        assert!(fresh.mo(b"1", 0, Bytes::new(), &NOW, 0).is_none());
    }
}
