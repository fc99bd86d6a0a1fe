//! SGIP 1.2 (China Unicom) on the SMPP edge: the SP's Submit link (an [`Initiator`],
//! Bind LoginType 1) presented to the pool as a [`Link`], and the translations the report
//! listener ([`super::sgip_report`]) uses for what the SMG sends back.
//!
//! - submit_sm → Submit: the UDH and TP_udhi of a part, MessageCoding 0/4/8/15,
//!   ReportFlag from registered_delivery, ServiceType, FeeType, FeeValue and CorpId from
//!   the carrier's configuration.
//! - Submit_Resp → submit_sm_resp: Result 11 (node busy) and 33 (queue full) are
//!   `ESME_RTHROTTLED`; the message id is the Submit's sequence triple written
//!   `node-MMDDhhmmss-counter`, the string the Report's SubmitSequenceNumber becomes.
//! - The link is kept bound while the slot lives (no own idle Unbind: the pool's dispatch
//!   would have to wait for a re-bind). An SMG that releases an idle link with Unbind
//!   closes the slot; the bind slot binds again at once and what was in flight (nothing,
//!   when the link was idle) is aborted and sent again by the pool: nothing is lost.

use std::collections::HashMap;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{
    Body as SmppBody, DeliverSm, MessageIdResp, Pdu as SmppPdu, SubmitSm,
};
use smppgate_protocol::receipt::MessageState;
use smppgate_protocol::session::CloseReason;
use smppgate_protocol::sgip::session::{
    CloseReason as SgipClose, Event, Initiator, InitiatorConfig, InitiatorState, Now, Role,
};
use smppgate_protocol::sgip::{
    Body, FrameDecoder, Report, Sequence, Sequencer, Submit, encode, report_state,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::translate::{self, trim};
use super::{SubmitSettings, login_timestamp};
use crate::config::{CarrierConfig, sgip_fee_type};
use crate::conn::error::RequestError;
use crate::conn::link::{Control, Reply, Request};
use crate::conn::{InboundRequest, Link, LinkState, Response};
use crate::esme::{ConnectError, Inbound};

/// Unwritten output past which no new request is taken.
const HIGH_WATER: usize = 256 * 1024;
/// How long a closing link may take to write its last packets.
const FLUSH_GRACE: Duration = Duration::from_secs(2);
/// TCP connect timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// ChargeNumber when the SP pays (SGIP 1.2 §4.2.3.3: 21 zeros).
const SP_PAYS: &[u8; 21] = b"000000000000000000000";

/// Counters each link of a node takes from (see [`sequencer`]).
const BLOCK: u32 = 1 << 22;

/// The sequencer of a new link of `node_id`: a Report is matched by its Submit's triple,
/// so no two links of one node in this process (bind slots, a link bound again within the
/// same second) may hand out the same one. Each link starts at the next block of
/// 4,194,304 counters of its node; two triples can only meet if a link sends more than
/// that in one second, or 1,024 links of one node open within the same second.
pub(crate) fn sequencer(node_id: u32) -> Sequencer {
    static NEXT: std::sync::Mutex<Option<HashMap<u32, u32>>> = std::sync::Mutex::new(None);
    let mut next = NEXT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let block = next
        .get_or_insert_with(HashMap::new)
        .entry(node_id)
        .or_insert(0);
    let start = *block;
    *block = block.wrapping_add(BLOCK);
    Sequencer::resume(node_id, start)
}

/// What an SGIP Submit takes from the carrier's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SgipSettings {
    /// ServiceType, SPNumber, FeeValue, the payer, GBK.
    pub(crate) submit: SubmitSettings,
    /// The SP node id.
    pub(crate) node_id: u32,
    /// CorpId: the node id's last five digits.
    pub(crate) corp_id: Bytes,
    /// FeeType (0–4).
    pub(crate) fee_type: u8,
}

impl SgipSettings {
    pub(crate) fn from_config(config: &CarrierConfig) -> Self {
        let node_id = config.node_id.unwrap_or(0);
        Self {
            submit: SubmitSettings::from_config(config),
            node_id,
            corp_id: Bytes::from(format!("{:05}", node_id % 100_000)),
            fee_type: sgip_fee_type(&config.fee_type).unwrap_or(1),
        }
    }
}

/// The message id of a Submit: its sequence triple as `node-MMDDhhmmss-counter` (what
/// the Report about it carries in SubmitSequenceNumber).
pub(crate) fn message_id(sequence: Sequence) -> String {
    sequence.to_string()
}

/// Submit_Resp Result as an SMPP status (SGIP 1.2 §4.2.4). Node busy and a full queue
/// are throttling; the message's own faults are permanent; the rest is transient.
pub(crate) const fn status_of_result(result: u8) -> CommandStatus {
    match result {
        0 => CommandStatus::ESME_ROK,
        // 5 parameter format error, 24 invalid charge number.
        5 | 24 => CommandStatus::ESME_RINVPARLEN,
        // 6 illegal number, 26 handset memory full, 27 no SMS, 29 unknown user, 31
        // illegal device.
        6 | 26 | 27 | 29 | 31 => CommandStatus::ESME_RINVDSTADR,
        // 8 message length error.
        8 => CommandStatus::ESME_RINVMSGLEN,
        // 11 node busy, 33 SMSC queue full: the SMG's flow control.
        11 | 33 => CommandStatus::ESME_RTHROTTLED,
        // 9 illegal sequence: a retry with a new one can pass.
        9 => CommandStatus::ESME_RSYSERR,
        _ => CommandStatus::ESME_RSUBMITFAIL,
    }
}

/// The SGIP Submit for a submit_sm part (its sequence set by the link).
///
/// # Errors
/// The SMPP status that refuses it: a coding it cannot carry, a destination or source
/// wider than 21 octets, content over 160 octets.
pub(crate) fn submit(
    settings: &SgipSettings,
    submit_sm: &SubmitSm,
) -> Result<Submit, CommandStatus> {
    let body = translate::submit_body(submit_sm, settings.submit.gbk)?;
    if body.content.len() > smppgate_protocol::sgip::smg::MAX_CONTENT {
        return Err(CommandStatus::ESME_RINVMSGLEN);
    }
    let destination = trim(&submit_sm.destination_addr.addr);
    if destination.is_empty() || destination.len() > 21 {
        return Err(CommandStatus::ESME_RINVDSTADR);
    }
    let sp_number = settings
        .submit
        .src_id_for(&trim(&submit_sm.source_addr.addr));
    if sp_number.len() > 21 {
        return Err(CommandStatus::ESME_RINVSRCADR);
    }
    let charge_number = match settings.submit.fee_user_type {
        0 => destination.clone(),
        2 => Bytes::from_static(SP_PAYS),
        _ => Bytes::new(),
    };
    // registered_delivery bits 1–0: 1 every outcome, 2 failures only, 0 none.
    let report_flag = match submit_sm.registered_delivery.0 & 0x03 {
        1 => smppgate_protocol::sgip::smg::report_flag::ALWAYS,
        2 => smppgate_protocol::sgip::smg::report_flag::ON_ERROR,
        _ => smppgate_protocol::sgip::smg::report_flag::NEVER,
    };
    Ok(Submit {
        sp_number,
        charge_number,
        user_numbers: vec![destination],
        corp_id: settings.corp_id.clone(),
        service_type: settings.submit.service_id.clone(),
        fee_type: settings.fee_type,
        fee_value: settings.submit.fee_code.clone(),
        given_value: Bytes::new(),
        agent_flag: 0,
        // 2: an MT not caused by an MO.
        morelateto_mt_flag: 2,
        priority: submit_sm.priority_flag.min(9),
        expire_time: Bytes::new(),
        schedule_time: Bytes::new(),
        report_flag,
        tp_pid: submit_sm.protocol_id,
        tp_udhi: u8::from(body.udhi),
        message_coding: body.format,
        message_type: 0,
        message_content: body.content,
        reserve: Bytes::new(),
    })
}

/// The `stat:` of a Report: State 0 DELIVRD, 1 ENROUTE, 2 by ErrorCode as the SMG (and
/// our simulator) writes it: 25 REJECTD, 28 EXPIRED, 29 UNKNOWN, 32 DELETED, anything
/// else UNDELIV.
pub(crate) const fn state_of_report(state: u8, error_code: u8) -> MessageState {
    match (state, error_code) {
        (report_state::DELIVERED, _) => MessageState::Delivered,
        (report_state::WAITING, _) => MessageState::Enroute,
        (_, 25) => MessageState::Rejected,
        (_, 28) => MessageState::Expired,
        (_, 29) => MessageState::Unknown,
        (_, 32) => MessageState::Deleted,
        _ => MessageState::Undeliverable,
    }
}

/// A Report as a deliver_sm receipt: `id:` and receipted_message_id the Submit's triple,
/// `stat:` from State/ErrorCode, `err:` the ErrorCode; SGIP carries no times, so both
/// dates are `date` (when the Report arrived, YYMMDDhhmm).
pub(crate) fn receipt(report: &Report, sp_number: &Bytes, date: &str) -> DeliverSm {
    let state = state_of_report(report.state, report.error_code);
    translate::receipt(&translate::Report {
        id: message_id(report.submit_sequence),
        stat: state.stat().to_owned(),
        submit_time: date.to_owned(),
        done_time: date.to_owned(),
        err: format!("{:03}", report.error_code),
        handset: report.user_number.clone(),
        sp_number: sp_number.clone(),
    })
}

/// Now as YYMMDDhhmm in China Standard Time, for the receipt's dates.
pub(crate) fn receipt_date() -> String {
    let seconds = crate::clock::system_wall_ms() / 1000 + 8 * 3600;
    let d = crate::clock::utc_date(seconds);
    format!(
        "{:02}{:02}{:02}{:02}{:02}",
        d.year % 100,
        d.month,
        d.day,
        d.hour,
        d.minute
    )
}

/// The login refusal as an SMPP status (for the bind-refused alert).
const fn login_refused(result: u8) -> CommandStatus {
    match result {
        1 => CommandStatus::ESME_RINVPASWD,
        2 => CommandStatus::ESME_RALYBND,
        _ => CommandStatus::ESME_RBINDFAIL,
    }
}

/// How the Bind ended.
enum Login {
    Ok,
    Refused(CommandStatus),
    Closed(CloseReason),
}

/// Connects to the SMG, binds with LoginType 1, and returns the link once bound. The
/// inbound stream carries nothing (reports and MO arrive on the report listener) and
/// ends when the link closes.
///
/// # Errors
/// Connection refused or timed out, Bind refused ([`ConnectError::BindRefused`]), no
/// Bind_Resp.
pub(crate) async fn connect(
    addr: &str,
    config: &CarrierConfig,
) -> Result<(Link, Inbound), ConnectError> {
    let connect_error = |cause| ConnectError::Connect {
        addr: addr.to_owned(),
        cause,
    };
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| connect_error(std::io::ErrorKind::TimedOut.into()))?
        .map_err(connect_error)?;
    tcp.set_nodelay(true).map_err(connect_error)?;
    let settings = SgipSettings::from_config(config);
    let window = config.window.max(1);
    let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1);
    let mut session = Initiator::with_sequencer(
        InitiatorConfig {
            role: Role::Sp,
            node_id: settings.node_id,
            login_name: Bytes::copy_from_slice(config.system_id.as_bytes()),
            login_password: Bytes::copy_from_slice(config.password.as_bytes()),
            window,
            response_timeout_ms: millis(config.response_timeout),
            idle_timeout_ms: 0,
        },
        sequencer(settings.node_id),
    );
    let (requests_tx, requests) = mpsc::channel(window.clamp(1, 4096));
    let (control_tx, control) = mpsc::channel(4);
    let (state, state_rx) = watch::channel(LinkState::Opening);
    let link = Link {
        requests: requests_tx,
        control: control_tx,
        state: state_rx,
    };
    let (inbound_tx, inbound_rx) = mpsc::channel::<InboundRequest>(1);
    let (login_tx, login_rx) = oneshot::channel();
    let origin = Instant::now();
    // Idle: bind cannot be refused.
    let _ = session.bind(Now::new(0, login_timestamp()));
    let (reader, writer) = tcp.into_split();
    let task = Task {
        addr: addr.to_owned(),
        settings,
        session,
        origin,
        reader,
        writer,
        decoder: FrameDecoder::default(),
        input: BytesMut::with_capacity(8192),
        out: BytesMut::new(),
        probe: BytesMut::new(),
        pending: HashMap::new(),
        requests,
        control,
        state,
        login: Some(login_tx),
        window,
        lost: false,
        closed: None,
        _inbound: inbound_tx,
    };
    tokio::spawn(task.run());
    match login_rx.await {
        Ok(Login::Ok) => Ok((link, Inbound::from_receiver(inbound_rx))),
        Ok(Login::Refused(status)) => Err(ConnectError::BindRefused {
            addr: addr.to_owned(),
            status,
        }),
        Ok(Login::Closed(reason)) => Err(ConnectError::Closed {
            addr: addr.to_owned(),
            reason,
        }),
        Err(_) => Err(ConnectError::Closed {
            addr: addr.to_owned(),
            reason: CloseReason::ConnectionLost,
        }),
    }
}

enum Wake {
    Written(std::io::Result<usize>),
    Read(std::io::Result<usize>),
    Request(Option<Box<Request>>),
    Control(Option<Control>),
    Timer,
}

struct Task {
    addr: String,
    settings: SgipSettings,
    session: Initiator,
    origin: Instant,
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
    decoder: FrameDecoder,
    input: BytesMut,
    out: BytesMut,
    /// Where a Submit is encoded once before it enters the window (reused).
    probe: BytesMut,
    /// Submits in the window: sequence → where the answer goes.
    pending: HashMap<Sequence, Reply>,
    requests: mpsc::Receiver<Request>,
    control: mpsc::Receiver<Control>,
    state: watch::Sender<LinkState>,
    login: Option<oneshot::Sender<Login>>,
    window: usize,
    lost: bool,
    closed: Option<CloseReason>,
    /// Held so the (empty) inbound stream ends only with the link.
    _inbound: mpsc::Sender<InboundRequest>,
}

impl Task {
    fn now(&self) -> Now {
        Now::new(
            u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX),
            login_timestamp(),
        )
    }

    async fn run(mut self) {
        let mut requests_open = true;
        let mut control_open = true;
        let sleep = tokio::time::sleep_until(self.origin);
        tokio::pin!(sleep);
        let mut armed: Option<Instant> = None;
        loop {
            self.drain();
            if self.closed.is_some() {
                break;
            }
            let timeout = self
                .session
                .poll_timeout()
                .map(|ms| self.origin + Duration::from_millis(ms));
            if timeout != armed {
                if let Some(at) = timeout {
                    sleep.as_mut().reset(at);
                }
                armed = timeout;
            }
            let can_request = requests_open
                && self.session.is_bound()
                && self.pending.len() < self.window
                && self.out.len() < HIGH_WATER;
            let wake = tokio::select! {
                written = self.writer.write_buf(&mut self.out), if !self.out.is_empty() => Wake::Written(written),
                read = self.reader.read_buf(&mut self.input) => Wake::Read(read),
                request = self.requests.recv(), if can_request => Wake::Request(request.map(Box::new)),
                control = self.control.recv(), if control_open => Wake::Control(control),
                () = &mut sleep, if armed.is_some() => Wake::Timer,
            };
            match wake {
                Wake::Written(Ok(_)) => {}
                Wake::Written(Err(error)) => {
                    tracing::info!(carrier = %self.addr, protocol = "SGIP 1.2", %error, "write failed");
                    self.connection_lost();
                }
                Wake::Read(Ok(0)) | Wake::Control(Some(Control::Close)) => self.connection_lost(),
                Wake::Read(Ok(_)) => self.read_frames(),
                Wake::Read(Err(error)) => {
                    tracing::info!(carrier = %self.addr, protocol = "SGIP 1.2", %error, "read failed");
                    self.connection_lost();
                }
                Wake::Request(Some(request)) => {
                    self.request(*request);
                    while self.pending.len() < self.window && self.out.len() < HIGH_WATER {
                        let Ok(request) = self.requests.try_recv() else {
                            break;
                        };
                        self.request(request);
                        self.drain();
                    }
                }
                Wake::Request(None) => {
                    requests_open = false;
                    self.unbind();
                }
                Wake::Control(Some(Control::Unbind)) => self.unbind(),
                Wake::Control(None) => control_open = false,
                Wake::Timer => {
                    armed = None;
                    let now = self.now();
                    self.session.handle_timeout(now);
                }
            }
        }
        self.finish().await;
    }

    fn unbind(&mut self) {
        if !matches!(
            self.session.state(),
            InitiatorState::Unbinding { .. } | InitiatorState::Closed(_)
        ) {
            let now = self.now();
            self.session.unbind(now);
        }
    }

    fn connection_lost(&mut self) {
        self.lost = true;
        self.session.handle_frame_error();
    }

    fn read_frames(&mut self) {
        loop {
            match self.decoder.decode(&mut self.input) {
                Ok(None) => return,
                Ok(Some(Ok(pdu))) => {
                    let now = self.now();
                    self.session.handle_pdu(now, pdu);
                }
                Ok(Some(Err(error))) => {
                    tracing::warn!(carrier = %self.addr, protocol = "SGIP 1.2", %error, "undecodable packet dropped");
                    let now = self.now();
                    self.session.handle_decode_error(now);
                }
                Err(error) => {
                    tracing::warn!(carrier = %self.addr, protocol = "SGIP 1.2", %error, "stream cannot be framed; closing");
                    self.session.handle_frame_error();
                    return;
                }
            }
        }
    }

    fn request(&mut self, request: Request) {
        let Request { body, reply } = request;
        if reply.is_closed() {
            return;
        }
        let SmppBody::SubmitSm(submit_sm) = &body else {
            reply.send(Ok(response(0, CommandStatus::ESME_RINVCMDID, Bytes::new())));
            return;
        };
        let submit = match submit(&self.settings, submit_sm) {
            Ok(submit) => submit,
            Err(status) => {
                tracing::debug!(carrier = %self.addr, %status, "submit_sm cannot be said in SGIP");
                reply.send(Ok(response(0, status, Bytes::new())));
                return;
            }
        };
        // Checked before it enters the window: never sent half.
        let probe = smppgate_protocol::sgip::Pdu {
            sequence: Sequence::default(),
            body: Body::Submit(Box::new(submit)),
        };
        self.probe.clear();
        if let Err(error) = encode(&probe, &mut self.probe) {
            tracing::debug!(carrier = %self.addr, %error, "Submit cannot be encoded");
            reply.send(Ok(response(
                0,
                CommandStatus::ESME_RINVPARLEN,
                Bytes::new(),
            )));
            return;
        }
        let now = self.now();
        match self.session.send_request(now, probe.body) {
            Ok(sequence) => {
                self.pending.insert(sequence, reply);
            }
            Err(error) => {
                tracing::debug!(carrier = %self.addr, %error, "request refused by the session");
                reply.send(Err(RequestError::Closed));
            }
        }
    }

    fn drain(&mut self) {
        loop {
            while let Some(pdu) = self.session.poll_transmit() {
                if let Err(error) = encode(&pdu, &mut self.out) {
                    tracing::error!(carrier = %self.addr, %error, "cannot encode {pdu:?}");
                    self.session.handle_frame_error();
                }
            }
            let Some(event) = self.session.poll_event() else {
                return;
            };
            self.event(event);
        }
    }

    fn event(&mut self, event: Event) {
        match event {
            Event::Bound { .. } => {
                tracing::info!(carrier = %self.addr, protocol = "SGIP 1.2", "bound");
                self.state.send_replace(LinkState::Bound);
                if let Some(login) = self.login.take() {
                    let _ = login.send(Login::Ok);
                }
            }
            Event::Response { sequence, pdu } => {
                if let Some(reply) = self.pending.remove(&sequence) {
                    let (status, id) = match &pdu.body {
                        Body::SubmitResp(resp) => {
                            let status = status_of_result(resp.result);
                            let id = if status.is_ok() {
                                Bytes::from(message_id(sequence))
                            } else {
                                Bytes::new()
                            };
                            (status, id)
                        }
                        _ => (CommandStatus::ESME_RSYSERR, Bytes::new()),
                    };
                    reply.send(Ok(response(sequence.counter, status, id)));
                }
            }
            Event::TimedOut { sequence, .. } => {
                if let Some(reply) = self.pending.remove(&sequence) {
                    let closed = matches!(self.session.state(), InitiatorState::Closed(_));
                    reply.send(Err(if closed {
                        RequestError::Aborted {
                            sequence_number: sequence.counter,
                            reason: Some(CloseReason::ConnectionLost),
                        }
                    } else {
                        RequestError::Timeout {
                            sequence_number: sequence.counter,
                        }
                    }));
                }
            }
            Event::Request(pdu) | Event::Unexpected(pdu) => {
                tracing::debug!(carrier = %self.addr, ?pdu, "unexpected SGIP packet on the Submit link");
            }
            Event::Closed(reason) => {
                let smpp = self.close_reason(reason);
                if let SgipClose::BindRefused { result } = reason {
                    tracing::warn!(carrier = %self.addr, protocol = "SGIP 1.2", result, "Bind refused");
                    if let Some(login) = self.login.take() {
                        let _ = login.send(Login::Refused(login_refused(result)));
                    }
                } else {
                    tracing::info!(carrier = %self.addr, protocol = "SGIP 1.2", ?reason, "link closed");
                }
                if let Some(login) = self.login.take() {
                    let _ = login.send(Login::Closed(smpp));
                }
                self.closed = Some(smpp);
            }
        }
    }

    fn close_reason(&self, reason: SgipClose) -> CloseReason {
        if self.lost {
            return CloseReason::ConnectionLost;
        }
        match reason {
            SgipClose::BindRefused { .. } => CloseReason::Requested,
            SgipClose::BindTimedOut => CloseReason::BindTimeout,
            SgipClose::Idle | SgipClose::Unbound => CloseReason::Unbound,
            SgipClose::PeerUnbound => CloseReason::PeerUnbound,
            SgipClose::ProtocolError => CloseReason::FramingLost,
        }
    }

    async fn finish(mut self) {
        self.drain();
        for (sequence, reply) in self.pending.drain() {
            reply.send(Err(RequestError::Aborted {
                sequence_number: sequence.counter,
                reason: self.closed,
            }));
        }
        let reason = self.closed.unwrap_or(CloseReason::ConnectionLost);
        self.state.send_replace(LinkState::Closed(reason));
        if !self.lost && !self.out.is_empty() {
            let _ = tokio::time::timeout(FLUSH_GRACE, self.writer.write_all(&self.out)).await;
        }
        let _ = self.writer.shutdown().await;
    }
}

/// A submit_sm_resp with `status` and `message_id`.
fn response(sequence_number: u32, status: CommandStatus, message_id: Bytes) -> Response {
    Response {
        pdu: SmppPdu {
            sequence_number,
            command_status: status,
            body: SmppBody::SubmitSmResp(MessageIdResp {
                message_id,
                ..MessageIdResp::default()
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smppgate_protocol::receipt::DeliveryReceipt;
    use smppgate_protocol::types::{Address, DataCoding, EsmClass, RegisteredDelivery};

    fn settings() -> SgipSettings {
        let mut config = CarrierConfig::smpp_defaults();
        config.protocol = crate::config::CarrierProtocol::Sgip;
        config.node_id = Some(3_020_012_345);
        config.service_id = "MI0001".to_owned();
        config.src_id = "10655001".to_owned();
        config.fee_code = "10".to_owned();
        SgipSettings::from_config(&config)
    }

    #[test]
    fn a_long_message_part_becomes_a_submit_with_udhi_ucs2_and_the_config_fields() {
        let settings = settings();
        let part = SubmitSm {
            source_addr: Address::international("1065500123"),
            destination_addr: Address::international("13000000000"),
            esm_class: EsmClass(EsmClass::UDHI),
            data_coding: DataCoding::UCS2,
            registered_delivery: RegisteredDelivery(1),
            short_message: Bytes::from_static(&[5, 0, 3, 7, 2, 2, 0x4E, 0x2D]),
            ..SubmitSm::default()
        };
        let s = submit(&settings, &part).unwrap();
        assert_eq!((s.tp_udhi, s.message_coding, s.report_flag), (1, 8, 1));
        assert_eq!(&s.message_content[..], &part.short_message[..]);
        assert_eq!(&s.corp_id[..], b"12345");
        assert_eq!(&s.service_type[..], b"MI0001");
        assert_eq!(&s.fee_value[..], b"10");
        assert_eq!(s.fee_type, 1);
        // The SP pays (fee_user_type 2): ChargeNumber all zeros.
        assert_eq!(&s.charge_number[..], SP_PAYS);
        // The source extends the SP number: kept.
        assert_eq!(&s.sp_number[..], b"1065500123");
        assert_eq!(s.user_numbers, [Bytes::from_static(b"13000000000")]);
        // No receipt asked: ReportFlag 2 (never); failures only: 0.
        let mut none = part.clone();
        none.registered_delivery = RegisteredDelivery(0);
        assert_eq!(submit(&settings, &none).unwrap().report_flag, 2);
        none.registered_delivery = RegisteredDelivery(2);
        assert_eq!(submit(&settings, &none).unwrap().report_flag, 0);
        none.destination_addr = Address::international("1".repeat(22));
        assert_eq!(
            submit(&settings, &none),
            Err(CommandStatus::ESME_RINVDSTADR)
        );
    }

    #[test]
    fn two_links_of_one_node_never_hand_out_the_same_triple() {
        let mut a = sequencer(3_000_000_001);
        let mut b = sequencer(3_000_000_001);
        let mut other = sequencer(3_000_000_002);
        let (x, y) = (a.next(1_206_112_233), b.next(1_206_112_233));
        assert_ne!(message_id(x), message_id(y));
        assert_eq!(y.counter.wrapping_sub(x.counter), BLOCK);
        assert_eq!(other.next(1).counter, 1);
    }

    #[test]
    fn node_busy_is_throttling_and_a_bad_number_is_permanent() {
        assert_eq!(status_of_result(0), CommandStatus::ESME_ROK);
        assert_eq!(status_of_result(11), CommandStatus::ESME_RTHROTTLED);
        assert_eq!(status_of_result(33), CommandStatus::ESME_RTHROTTLED);
        assert_eq!(status_of_result(6), CommandStatus::ESME_RINVDSTADR);
        assert_eq!(status_of_result(8), CommandStatus::ESME_RINVMSGLEN);
        assert_eq!(status_of_result(32), CommandStatus::ESME_RSUBMITFAIL);
    }

    #[test]
    fn a_report_becomes_a_receipt_with_the_submit_id_and_the_state_the_sim_encoded() {
        let sequence = Sequence {
            node_id: 3_020_012_345,
            time: 1_206_112_233,
            counter: 7,
        };
        for state in [
            MessageState::Delivered,
            MessageState::Undeliverable,
            MessageState::Rejected,
            MessageState::Expired,
            MessageState::Unknown,
            MessageState::Deleted,
        ] {
            let (sgip_state, error_code) = crate::sim::sgip::sgip_state(state);
            let report = Report {
                submit_sequence: sequence,
                report_type: 0,
                user_number: Bytes::from_static(b"13000000000"),
                state: sgip_state,
                error_code,
                reserve: Bytes::new(),
            };
            let sm = receipt(&report, &Bytes::from_static(b"10655001"), "2612061122");
            let parsed = DeliveryReceipt::from_body(&SmppBody::DeliverSm(sm)).unwrap();
            assert_eq!(parsed.id(), Some("3020012345-1206112233-7"));
            assert_eq!(parsed.id(), Some(message_id(sequence).as_str()));
            assert_eq!(parsed.state(), Some(state), "{state:?}");
        }
    }
}
