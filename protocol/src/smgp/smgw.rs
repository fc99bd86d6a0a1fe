//! The carrier side (SMGW, China Telecom's gateway) of one SMGP link, sans-IO: what a
//! simulator or a test peer answers to what an SP sends. It checks Login (ClientID, the
//! AuthenticatorClient against the account's secret, the version) and signs its answer with
//! AuthenticatorServer, gives every accepted Submit a 10-octet MsgID, says which status
//! reports are owed, builds the report Delivers (IsReport 1, the `id: sub: dlvrd: … stat:
//! err:` text) and MO Delivers through a window, and answers Active_Test and Exit. The
//! caller owns the socket, the clocks (every call takes the time) and the queue of owed
//! reports. The same shape as [`crate::cmpp::ismg`].

use std::collections::VecDeque;

use bytes::Bytes;

use super::pdu::{Body, Deliver, LoginResp, MsgIdStatus, Pdu};
use super::tlv::{self, Tlv};
use super::{
    MsgId, Report, STATUS_AUTH_FAILED, STATUS_OK, VERSION, authenticator_client,
    authenticator_server,
};
use crate::china::auth::same;
use crate::receipt::ReceiptDate;

/// Status 10: bad message structure (PkNumber above PkTotal, a UDH that does not fit).
pub const STATUS_BAD_STRUCTURE: u32 = 10;
/// Status 22: version too high.
pub const STATUS_VERSION_TOO_HIGH: u32 = 22;
/// Status 36: bad message length.
pub const STATUS_BAD_LENGTH: u32 = 36;
/// Status 47: bad destination number.
pub const STATUS_BAD_DEST: u32 = 47;

/// Longest MsgContent of one Submit (one SMS).
const MAX_CONTENT: usize = 140;

/// An SMGW link's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmgwConfig {
    /// Who may log in: (ClientID, shared secret). Empty: anyone, unchecked.
    pub accounts: Vec<(Bytes, Bytes)>,
    /// The SMGW code (six decimal digits) written into every MsgID.
    pub gateway_code: u32,
    /// Delivers (reports and MO) sent and not answered yet, at most.
    pub window: usize,
    /// A Deliver unanswered this long (ms) is given back by [`Smgw::handle_timeout`] to
    /// be sent again.
    pub response_timeout_ms: u64,
    /// Sends of one Deliver at most, then it is dropped.
    pub max_tries: u8,
}

/// What the caller must do after a packet.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write this packet.
    Send(Pdu),
    /// A status report is owed for this accepted Submit (one per destination): keep it and
    /// hand it to [`Smgw::report`] when it is due.
    Owe(OwedReport),
    /// Close the connection (after writing what came before), for this reason.
    Close(&'static str),
}

/// A status report owed to the SP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwedReport {
    /// The Submit_Resp's MsgID.
    pub msg_id: MsgId,
    /// The handset the report is about (the report's SrcTermID).
    pub dest_term_id: Bytes,
    /// The Submit's SrcTermID (the report's DestTermID).
    pub src_term_id: Bytes,
    /// YYMMDDhhmm of the submit.
    pub submit_date: [u8; 10],
    /// The first 20 octets of the message (the report's `Text:`).
    pub text: Bytes,
    /// Sends so far (0 until it first goes out).
    pub tries: u8,
}

/// What is in flight: a report (to be sent again on timeout) or an MO.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Sent {
    Report(OwedReport, Bytes, Bytes),
    Mo,
}

/// What [`Smgw::handle_timeout`] found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Expired {
    /// Reports to send again (their `tries` counts the sends so far), with the stat and
    /// err they carried.
    pub retry: Vec<(OwedReport, Bytes, Bytes)>,
    /// Delivers given up: reports sent `max_tries` times without an answer, and MOs.
    pub dropped: usize,
}

/// One SMGW link.
#[derive(Debug)]
pub struct Smgw {
    config: SmgwConfig,
    /// The ClientID that logged in and its LoginMode.
    login: Option<(Bytes, u8)>,
    /// MsgID sequence (six BCD digits).
    msg_sequence: u32,
    next_sequence_id: u32,
    /// Delivers sent and unanswered: SequenceID, when sent (ms), what.
    in_flight: VecDeque<(u32, u64, Sent)>,
}

/// Two BCD digits.
const fn bcd(value: u8) -> u8 {
    ((value / 10 % 10) << 4) | (value % 10)
}

/// YYMMDDhhmm, or YYYYMMDDhhmmss with `long`.
fn digits(date: &ReceiptDate, long: bool) -> Vec<u8> {
    let mut parts = Vec::with_capacity(7);
    if long {
        parts.push((date.year / 100 % 100) as u8);
    }
    parts.extend_from_slice(&[
        (date.year % 100) as u8,
        date.month,
        date.day,
        date.hour,
        date.minute,
    ]);
    if long {
        parts.push(date.second);
    }
    parts
        .into_iter()
        .flat_map(|v| [b'0' + v / 10 % 10, b'0' + v % 10])
        .collect()
}

impl Smgw {
    /// A link waiting for Login.
    #[must_use]
    pub const fn new(config: SmgwConfig) -> Self {
        Self {
            config,
            login: None,
            msg_sequence: 0,
            next_sequence_id: 1,
            in_flight: VecDeque::new(),
        }
    }

    /// The ClientID and LoginMode logged in, if any.
    #[must_use]
    pub const fn login(&self) -> Option<&(Bytes, u8)> {
        self.login.as_ref()
    }

    /// Delivers sent and not answered.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Whether [`Smgw::report`] or [`Smgw::mo`] would send now (logged in, window not
    /// full).
    #[must_use]
    pub fn can_deliver(&self) -> bool {
        self.login.is_some() && self.in_flight.len() < self.config.window
    }

    fn sequence_id(&mut self) -> u32 {
        let id = self.next_sequence_id;
        self.next_sequence_id = self.next_sequence_id.wrapping_add(1).max(1);
        id
    }

    /// SMGW code (3 BCD octets), MMDDHHMM (4), sequence (3).
    fn msg_id(&mut self, now: &ReceiptDate) -> MsgId {
        let sequence = self.msg_sequence;
        self.msg_sequence = (self.msg_sequence + 1) % 1_000_000;
        let code = self.config.gateway_code % 1_000_000;
        let pair = |n: u32| bcd((n % 100) as u8);
        MsgId([
            pair(code / 10_000),
            pair(code / 100),
            pair(code),
            bcd(now.month),
            bcd(now.day),
            bcd(now.hour),
            bcd(now.minute),
            pair(sequence / 10_000),
            pair(sequence / 100),
            pair(sequence),
        ])
    }

    /// Handles one packet from the SP at `now`. `submit_status` is the Status a valid
    /// Submit gets (0, or what the caller injects: 75 when throttled or its report queue is
    /// full); a malformed Submit gets its own Status whatever this says.
    pub fn handle(
        &mut self,
        pdu: Pdu,
        now: &ReceiptDate,
        submit_status: u32,
        out: &mut Vec<Action>,
    ) {
        let sequence_id = pdu.sequence_id;
        let reply = |body| Action::Send(Pdu { sequence_id, body });
        if self.login.is_none() && !matches!(pdu.body, Body::Login(_)) {
            out.push(Action::Close("a packet before Login"));
            return;
        }
        match pdu.body {
            Body::Login(login) => {
                if self.login.is_some() {
                    out.push(Action::Close("a second Login"));
                    return;
                }
                let (status, secret) = self.check_login(&login);
                out.push(reply(Body::LoginResp(LoginResp {
                    status,
                    authenticator_server: authenticator_server(
                        status,
                        &login.authenticator_client,
                        &secret,
                    ),
                    server_version: VERSION,
                })));
                if status == STATUS_OK {
                    self.login = Some((login.client_id, login.login_mode));
                } else {
                    out.push(Action::Close("Login refused"));
                }
            }
            Body::Submit(submit) => {
                let pk = |tag| tlv::find(&submit.tlvs, tag).and_then(Tlv::as_u8);
                let udhi = pk(tlv::TP_UDHI).unwrap_or(0);
                let (pk_total, pk_number) = (
                    pk(tlv::PK_TOTAL).unwrap_or(1),
                    pk(tlv::PK_NUMBER).unwrap_or(1),
                );
                let udh_fits = udhi == 0
                    || submit
                        .msg_content
                        .first()
                        .is_some_and(|udhl| usize::from(*udhl) < submit.msg_content.len());
                let status = if pk_total == 0 || pk_number == 0 || pk_number > pk_total || !udh_fits
                {
                    STATUS_BAD_STRUCTURE
                } else if submit.msg_content.len() > MAX_CONTENT {
                    STATUS_BAD_LENGTH
                } else if !submit
                    .dest_term_ids
                    .iter()
                    .all(|d| !d.is_empty() && d.iter().all(u8::is_ascii_digit))
                {
                    STATUS_BAD_DEST
                } else {
                    submit_status
                };
                let msg_id = if status == STATUS_OK {
                    self.msg_id(now)
                } else {
                    MsgId::default()
                };
                out.push(reply(Body::SubmitResp(MsgIdStatus { msg_id, status })));
                if status != STATUS_OK || submit.need_report != 1 {
                    return;
                }
                let submit_date: [u8; 10] = digits(now, false).try_into().unwrap_or([b'0'; 10]);
                let text = submit.msg_content.slice(..submit.msg_content.len().min(20));
                for dest in submit.dest_term_ids {
                    out.push(Action::Owe(OwedReport {
                        msg_id,
                        dest_term_id: dest,
                        src_term_id: submit.src_term_id.clone(),
                        submit_date,
                        text: text.clone(),
                        tries: 0,
                    }));
                }
            }
            Body::DeliverResp(_) => {
                // An answer to nothing we sent (or answered twice) is ignored.
                if let Some(at) = self.in_flight.iter().position(|(s, ..)| *s == sequence_id) {
                    self.in_flight.remove(at);
                }
            }
            Body::ActiveTest => out.push(reply(Body::ActiveTestResp)),
            Body::ActiveTestResp | Body::ExitResp => {}
            Body::Exit => {
                out.push(reply(Body::ExitResp));
                out.push(Action::Close("Exit"));
            }
            _ => out.push(Action::Close("a packet only an SMGW sends")),
        }
    }

    /// Status and secret for a Login (the secret is empty when anyone may log in).
    fn check_login(&self, login: &super::Login) -> (u32, Bytes) {
        if login.client_version >> 4 > VERSION >> 4 {
            return (STATUS_VERSION_TOO_HIGH, Bytes::new());
        }
        if self.config.accounts.is_empty() {
            return (STATUS_OK, Bytes::new());
        }
        // SMGP has no "unknown ClientID" status: an unknown account fails authentication.
        let Some((_, secret)) = self
            .config
            .accounts
            .iter()
            .find(|(name, _)| *name == login.client_id)
        else {
            return (STATUS_AUTH_FAILED, Bytes::new());
        };
        let expected = authenticator_client(&login.client_id, secret, login.timestamp);
        if same(&expected, &login.authenticator_client) {
            (STATUS_OK, secret.clone())
        } else {
            (STATUS_AUTH_FAILED, secret.clone())
        }
    }

    fn deliver(&mut self, now_ms: u64, deliver: Deliver, sent: Sent) -> Pdu {
        let sequence_id = self.sequence_id();
        self.in_flight.push_back((sequence_id, now_ms, sent));
        Pdu {
            sequence_id,
            body: Body::Deliver(deliver),
        }
    }

    /// The status-report Deliver for `owed` with final `stat` (DELIVRD, UNDELIV, …) and
    /// `err` done at `now`; `None` while [`Smgw::can_deliver`] is false (keep it and try
    /// again after a Deliver_Resp).
    #[must_use]
    pub fn report(
        &mut self,
        owed: &OwedReport,
        stat: &[u8],
        err: &[u8],
        now: &ReceiptDate,
        now_ms: u64,
    ) -> Option<Pdu> {
        if !self.can_deliver() {
            return None;
        }
        let cut = |b: &[u8], n: usize| Bytes::copy_from_slice(&b[..b.len().min(n)]);
        let delivered = stat == b"DELIVRD";
        let mut text = owed.text.to_vec();
        text.resize(20, 0);
        let report = Report {
            id: owed.msg_id,
            sub: Bytes::from_static(b"001"),
            dlvrd: Bytes::from_static(if delivered { b"001" } else { b"000" }),
            submit_date: Bytes::copy_from_slice(&owed.submit_date),
            done_date: Bytes::from(digits(now, false)),
            stat: cut(stat, 7),
            err: cut(err, 3),
            text: Bytes::from(text),
        };
        let mut sent = owed.clone();
        sent.tries = sent.tries.saturating_add(1);
        let msg_id = self.msg_id(now);
        let deliver = Deliver {
            msg_id,
            is_report: 1,
            msg_format: 0,
            recv_time: Bytes::from(digits(now, true)),
            src_term_id: cut(&owed.dest_term_id, 21),
            dest_term_id: cut(&owed.src_term_id, 21),
            msg_content: report.to_bytes(),
            reserve: Bytes::new(),
            tlvs: Vec::new(),
        };
        Some(self.deliver(
            now_ms,
            deliver,
            Sent::Report(sent, cut(stat, 7), cut(err, 3)),
        ))
    }

    /// An MO Deliver from `src_term_id` to the SP's `dest_term_id`; `None` while
    /// [`Smgw::can_deliver`] is false. An MO unanswered in time is dropped, not resent.
    #[must_use]
    pub fn mo(
        &mut self,
        src_term_id: &[u8],
        dest_term_id: &[u8],
        msg_format: u8,
        content: Bytes,
        now: &ReceiptDate,
        now_ms: u64,
    ) -> Option<Pdu> {
        if !self.can_deliver() {
            return None;
        }
        let cut = |b: &[u8], n: usize| Bytes::copy_from_slice(&b[..b.len().min(n)]);
        let msg_id = self.msg_id(now);
        let deliver = Deliver {
            msg_id,
            is_report: 0,
            msg_format,
            recv_time: Bytes::from(digits(now, true)),
            src_term_id: cut(src_term_id, 21),
            dest_term_id: cut(dest_term_id, 21),
            msg_content: content.slice(..content.len().min(MAX_CONTENT)),
            reserve: Bytes::new(),
            tlvs: Vec::new(),
        };
        Some(self.deliver(now_ms, deliver, Sent::Mo))
    }

    /// When (ms) the oldest unanswered Deliver times out.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<u64> {
        self.in_flight
            .front()
            .map(|(_, sent, _)| sent.saturating_add(self.config.response_timeout_ms))
    }

    /// Takes the Delivers unanswered since `response_timeout_ms` before `now_ms` out of
    /// the window: reports to send again, or dropped after `max_tries` sends.
    pub fn handle_timeout(&mut self, now_ms: u64) -> Expired {
        let mut expired = Expired::default();
        while let Some((_, sent, _)) = self.in_flight.front() {
            if sent.saturating_add(self.config.response_timeout_ms) > now_ms {
                break;
            }
            match self.in_flight.pop_front() {
                Some((_, _, Sent::Report(owed, stat, err)))
                    if owed.tries < self.config.max_tries =>
                {
                    expired.retry.push((owed, stat, err));
                }
                Some(_) => expired.dropped += 1,
                None => break,
            }
        }
        expired
    }

    /// An Active_Test for the SMGW's own heartbeat.
    pub fn active_test(&mut self) -> Pdu {
        Pdu {
            sequence_id: self.sequence_id(),
            body: Body::ActiveTest,
        }
    }

    /// An Exit to send when the SMGW closes the link.
    pub fn exit(&mut self) -> Pdu {
        Pdu {
            sequence_id: self.sequence_id(),
            body: Body::Exit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smgp::{Login, Submit, login_mode};

    const NOW: ReceiptDate = ReceiptDate {
        year: 2026,
        month: 12,
        day: 6,
        hour: 9,
        minute: 5,
        second: 7,
    };

    fn smgw(window: usize) -> Smgw {
        Smgw::new(SmgwConfig {
            accounts: vec![(Bytes::from_static(b"10001"), Bytes::from_static(b"secret"))],
            gateway_code: 590_123,
            window,
            response_timeout_ms: 1_000,
            max_tries: 2,
        })
    }

    fn login(name: &'static [u8], secret: &[u8], version: u8) -> Pdu {
        Pdu {
            sequence_id: 1,
            body: Body::Login(Login {
                client_id: Bytes::from_static(name),
                authenticator_client: authenticator_client(name, secret, 1_206_090_507),
                login_mode: login_mode::TRANSMIT,
                timestamp: 1_206_090_507,
                client_version: version,
            }),
        }
    }

    fn logged_in(window: usize) -> Smgw {
        let mut link = smgw(window);
        let mut out = Vec::new();
        link.handle(login(b"10001", b"secret", VERSION), &NOW, 0, &mut out);
        assert!(link.login().is_some(), "{out:?}");
        link
    }

    fn submit(tlvs: Vec<Tlv>, content: &'static [u8], dests: &[&'static [u8]]) -> Pdu {
        Pdu {
            sequence_id: 7,
            body: Body::Submit(Submit {
                msg_type: 6,
                need_report: 1,
                priority: 0,
                service_id: Bytes::from_static(b"TEST"),
                fee_type: Bytes::from_static(b"00"),
                fee_code: Bytes::from_static(b"000000"),
                fixed_fee: Bytes::from_static(b"000000"),
                msg_format: 8,
                valid_time: Bytes::new(),
                at_time: Bytes::new(),
                src_term_id: Bytes::from_static(b"10690001"),
                charge_term_id: Bytes::new(),
                dest_term_ids: dests.iter().map(|d| Bytes::from_static(d)).collect(),
                msg_content: Bytes::from_static(content),
                reserve: Bytes::new(),
                tlvs,
            }),
        }
    }

    #[test]
    fn login_is_checked_and_signed() {
        let cases: [(&'static [u8], &[u8], u8, u32); 4] = [
            (b"10001", b"secret", VERSION, STATUS_OK),
            (b"10001", b"wrong", VERSION, STATUS_AUTH_FAILED),
            (b"10002", b"secret", VERSION, STATUS_AUTH_FAILED),
            (b"10001", b"secret", 0x40, STATUS_VERSION_TOO_HIGH),
        ];
        for (name, secret, version, status) in cases {
            let mut link = smgw(1);
            let mut out = Vec::new();
            let pdu = login(name, secret, version);
            let Body::Login(l) = &pdu.body else { panic!() };
            let client = l.authenticator_client;
            link.handle(pdu, &NOW, 0, &mut out);
            let Action::Send(Pdu {
                body: Body::LoginResp(resp),
                sequence_id: 1,
            }) = &out[0]
            else {
                panic!("{out:?}")
            };
            assert_eq!(resp.status, status, "{name:?}");
            if status == STATUS_OK {
                assert_eq!(
                    resp.authenticator_server,
                    authenticator_server(0, &client, b"secret")
                );
                assert_eq!(out.len(), 1);
            } else {
                assert_eq!(out[1], Action::Close("Login refused"));
            }
        }
    }

    #[test]
    fn submit_gets_a_bcd_msg_id_and_owes_reports() {
        let mut link = logged_in(4);
        let mut out = Vec::new();
        link.handle(
            submit(Vec::new(), b"hi", &[b"13300000000", b"13300000001"]),
            &NOW,
            0,
            &mut out,
        );
        let Action::Send(Pdu {
            body: Body::SubmitResp(resp),
            sequence_id: 7,
        }) = &out[0]
        else {
            panic!("{out:?}")
        };
        assert_eq!(resp.status, 0);
        assert_eq!(resp.msg_id.to_string(), "59012312060905000000");
        let owed: Vec<_> = out
            .iter()
            .filter_map(|a| match a {
                Action::Owe(o) => Some(o.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(owed.len(), 2);
        let deliver = link.report(&owed[0], b"UNDELIV", b"006", &NOW, 0).unwrap();
        let Body::Deliver(d) = &deliver.body else {
            panic!()
        };
        assert_eq!(d.is_report, 1);
        assert_eq!(&d.src_term_id[..], b"13300000000");
        assert_eq!(&d.recv_time[..], b"20261206090507");
        assert_eq!(d.msg_content.len(), 122);
        let report = Report::parse(&d.msg_content).unwrap();
        assert_eq!(report.id, resp.msg_id);
        assert_eq!(
            (&report.stat[..], &report.err[..], &report.dlvrd[..]),
            (&b"UNDELIV"[..], &b"006"[..], &b"000"[..])
        );
    }

    #[test]
    fn malformed_submits_get_their_status() {
        let mut link = logged_in(4);
        for (tlvs, content, dest, status) in [
            (
                vec![Tlv::u8(tlv::PK_TOTAL, 2), Tlv::u8(tlv::PK_NUMBER, 3)],
                &b"hi"[..],
                &b"133"[..],
                STATUS_BAD_STRUCTURE,
            ),
            (
                vec![Tlv::u8(tlv::TP_UDHI, 1)],
                &[5, 0][..],
                &b"133"[..],
                STATUS_BAD_STRUCTURE,
            ),
            (Vec::new(), &[0; 141][..], &b"133"[..], STATUS_BAD_LENGTH),
            (Vec::new(), &b"hi"[..], &b"13x"[..], STATUS_BAD_DEST),
        ] {
            let mut out = Vec::new();
            let content: &'static [u8] = Box::leak(content.to_vec().into_boxed_slice());
            let dest: &'static [u8] = Box::leak(dest.to_vec().into_boxed_slice());
            link.handle(submit(tlvs, content, &[dest]), &NOW, 0, &mut out);
            assert_eq!(
                out,
                vec![Action::Send(Pdu {
                    sequence_id: 7,
                    body: Body::SubmitResp(MsgIdStatus {
                        msg_id: MsgId::default(),
                        status
                    })
                })]
            );
        }
    }

    #[test]
    fn delivers_go_through_the_window_and_come_back_on_timeout() {
        let mut link = logged_in(1);
        let mut out = Vec::new();
        link.handle(submit(Vec::new(), b"hi", &[b"133"]), &NOW, 0, &mut out);
        let Action::Owe(owed) = out[1].clone() else {
            panic!("{out:?}")
        };
        let first = link.report(&owed, b"DELIVRD", b"000", &NOW, 0).unwrap();
        assert!(
            link.mo(b"133", b"1069", 15, Bytes::from_static(b"TD"), &NOW, 0)
                .is_none()
        );
        assert_eq!(link.poll_timeout(), Some(1_000));
        let expired = link.handle_timeout(1_000);
        assert_eq!(expired.retry.len(), 1);
        assert_eq!(expired.retry[0].0.tries, 1);
        let again = link
            .report(&expired.retry[0].0, b"DELIVRD", b"000", &NOW, 1_000)
            .unwrap();
        assert_ne!(again.sequence_id, first.sequence_id);
        out.clear();
        link.handle(
            Pdu {
                sequence_id: again.sequence_id,
                body: Body::DeliverResp(MsgIdStatus {
                    msg_id: MsgId::default(),
                    status: 0,
                }),
            },
            &NOW,
            0,
            &mut out,
        );
        assert!(out.is_empty());
        let mo = link
            .mo(b"133", b"1069", 15, Bytes::from_static(b"TD"), &NOW, 2_000)
            .unwrap();
        let Body::Deliver(d) = &mo.body else { panic!() };
        assert_eq!(
            (d.is_report, d.msg_format, &d.msg_content[..]),
            (0, 15, &b"TD"[..])
        );
        assert_eq!(
            link.handle_timeout(3_000),
            Expired {
                retry: Vec::new(),
                dropped: 1
            }
        );
    }

    #[test]
    fn active_test_exit_and_packets_before_login() {
        let mut fresh = smgw(1);
        let mut out = Vec::new();
        fresh.handle(
            Pdu {
                sequence_id: 3,
                body: Body::ActiveTest,
            },
            &NOW,
            0,
            &mut out,
        );
        assert_eq!(out, vec![Action::Close("a packet before Login")]);
        let mut link = logged_in(1);
        out.clear();
        link.handle(
            Pdu {
                sequence_id: 5,
                body: Body::ActiveTest,
            },
            &NOW,
            0,
            &mut out,
        );
        link.handle(
            Pdu {
                sequence_id: 6,
                body: Body::Exit,
            },
            &NOW,
            0,
            &mut out,
        );
        assert_eq!(
            out,
            vec![
                Action::Send(Pdu {
                    sequence_id: 5,
                    body: Body::ActiveTestResp
                }),
                Action::Send(Pdu {
                    sequence_id: 6,
                    body: Body::ExitResp
                }),
                Action::Close("Exit"),
            ]
        );
    }
}
