//! `smppgate sim --protocol sgip --report-to ADDR`: a simulated China Unicom SMG. Two
//! halves, as SGIP has two connections (SGIP 1.2 §5.1):
//!
//! - **The SP's links.** Each connection the SP opens is an
//!   [`Acceptor`] for [`Role::Sp`]: Bind with LoginType 1 checked against `--account
//!   NAME:PASSWORD` (a wrong one gets Result 1), each Submit checked
//!   ([`smppgate_protocol::sgip::smg::check_submit`]) and answered, with the faults of
//!   [`CarrierFaults`] (injected Results, throttling at `--tps`, random disconnects).
//! - **The report link.** One task connects to `--report-to` when it has something to send,
//!   binds with LoginType 2 (an [`Initiator`] for [`Role::Smg`]), sends each Report
//!   (SubmitSequenceNumber: the Submit's own triple) and MO Deliver through a window, sends
//!   again what goes unanswered (up to `max_tries`), and unbinds when idle; the next report
//!   opens a new connection.
//!
//! Bounded: owed reports wait in one channel of `receipt_queue` places (a Submit that would
//! overflow it gets the throttle Result, 11 unless set), the report link holds at most its
//! window in flight plus as many waiting to be sent again, and MO is only made when there
//! is room.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use serde_json::Value;
use smppgate_protocol::china::auth::timestamp;
use smppgate_protocol::receipt::MessageState;
use smppgate_protocol::sgip::session::{
    Acceptor, AcceptorConfig, CloseReason, Event, Initiator, InitiatorConfig, Now, Role,
};
use smppgate_protocol::sgip::smg::{check_submit, mo, report, report_owed};
use smppgate_protocol::sgip::{
    Body, FrameDecoder, Pdu, RESULT_NODE_BUSY, RESULT_OK, Sequence, Submit, encode, report_state,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use super::china::{CarrierCounters, CarrierFaults, Throttles, add, bump, millis, mo_message};
use super::utc_now;

/// The SP number MO messages are addressed to.
const MO_SP_NUMBER: &[u8] = b"10655";
/// How long the report link waits after a failed connect or a refused Bind.
const REPORT_BACKOFF: Duration = Duration::from_secs(1);

/// The SGIP simulator's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SgipSimConfig {
    /// Where to listen for the SP (`host:port`, port 0 allowed).
    pub listen: String,
    /// Who may bind: (Login Name, Login Password); empty: anyone.
    pub accounts: Vec<(Bytes, Bytes)>,
    /// The SMG's node id, the first word of its sequence triples.
    pub node_id: u32,
    /// The SP's report listener; `None`: Reports and MO are not sent (counted dropped).
    pub report_to: Option<String>,
    /// Login Name and Password of the report link's Bind (LoginType 2).
    pub report_account: (Bytes, Bytes),
    /// Delay between a Submit and its Report.
    pub receipt_delay: Duration,
    /// Reports and MO unanswered on the report link, at most.
    pub window: usize,
    /// SP connections at once, at most (more are closed at once).
    pub max_connections: usize,
    /// Owed reports, at most (beyond: the throttle Result).
    pub receipt_queue: usize,
    /// How long Bind, Unbind and each Report may wait for an answer.
    pub response_timeout: Duration,
    /// Sends of one Report at most, then it is dropped.
    pub max_tries: u8,
    /// An SP link with nothing received for this long is unbound.
    pub idle_timeout: Duration,
    /// The report link, idle this long, is unbound (and opened again for the next one).
    pub report_idle_timeout: Duration,
    /// Faults.
    pub faults: CarrierFaults,
}

impl Default for SgipSimConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8801".to_owned(),
            accounts: Vec::new(),
            node_id: 2_000,
            report_to: None,
            report_account: (Bytes::new(), Bytes::new()),
            receipt_delay: Duration::from_millis(100),
            window: 16,
            max_connections: 1024,
            receipt_queue: 10_000,
            response_timeout: Duration::from_secs(30),
            max_tries: 3,
            idle_timeout: Duration::from_secs(180),
            report_idle_timeout: Duration::from_secs(30),
            faults: CarrierFaults::default(),
        }
    }
}

/// Something owed to the SP on the report link.
#[derive(Debug, Clone)]
struct Owed {
    due: Instant,
    body: Body,
    tries: u8,
}

/// A running SGIP simulator.
#[derive(Debug)]
pub struct SgipSim {
    addr: SocketAddr,
    counters: Arc<CarrierCounters>,
    stop: watch::Sender<bool>,
    accept: JoinHandle<()>,
    reports: JoinHandle<()>,
}

struct Shared {
    config: SgipSimConfig,
    counters: Arc<CarrierCounters>,
    throttles: Throttles,
    reports: mpsc::Sender<Owed>,
}

impl SgipSim {
    /// Starts listening (and the report link, which connects on demand).
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn start(config: SgipSimConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind(&config.listen).await?;
        let addr = listener.local_addr()?;
        let counters = Arc::new(CarrierCounters::default());
        let (stop, stopped) = watch::channel(false);
        let (reports_tx, reports_rx) = mpsc::channel(config.receipt_queue.max(1));
        let shared = Arc::new(Shared {
            throttles: Throttles::new(config.faults.tps),
            config,
            counters: Arc::clone(&counters),
            reports: reports_tx,
        });
        let reports = tokio::spawn(report_link(
            Arc::clone(&shared),
            reports_rx,
            stopped.clone(),
        ));
        let accept = tokio::spawn(accept_loop(listener, shared, stopped));
        Ok(Self {
            addr,
            counters,
            stop,
            accept,
            reports,
        })
    }

    /// The address listened on.
    #[must_use]
    pub const fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The counters, live.
    #[must_use]
    pub fn counters(&self) -> &CarrierCounters {
        &self.counters
    }

    /// Stops accepting, unbinds every link (the report link too) and waits up to `grace`
    /// for them to close; returns the final counters.
    pub async fn shutdown(mut self, grace: Duration) -> Value {
        let _ = self.stop.send(true);
        let both = async {
            let _ = (&mut self.accept).await;
            let _ = (&mut self.reports).await;
        };
        if tokio::time::timeout(grace + Duration::from_millis(100), both)
            .await
            .is_err()
        {
            tracing::warn!("some SGIP links did not close within {grace:?}");
            self.accept.abort();
            self.reports.abort();
        }
        self.counters.to_json()
    }
}

/// The wall clock as MMDDhhmmss.
fn stamp() -> u32 {
    let now = utc_now();
    timestamp(
        u32::from(now.month),
        u32::from(now.day),
        u32::from(now.hour),
        u32::from(now.minute),
        u32::from(now.second),
    )
}

fn now_since(start: Instant) -> Now {
    Now::new(millis(start.elapsed()), stamp())
}

/// SGIP State and ErrorCode for a final state. SGIP reports only delivered (0), waiting
/// (1) and failed (2); the failure's ErrorCode is the nearest SGIP Result: 21 unreachable
/// for UNDELIV, 25 cannot communicate for REJECTD, 28 handset error for EXPIRED, 29
/// unknown user for UNKNOWN, 32 system failure for DELETED.
#[must_use]
pub const fn sgip_state(state: MessageState) -> (u8, u8) {
    match state {
        MessageState::Delivered => (report_state::DELIVERED, 0),
        MessageState::Enroute | MessageState::Accepted => (report_state::WAITING, 0),
        MessageState::Undeliverable => (report_state::FAILED, 21),
        MessageState::Rejected => (report_state::FAILED, 25),
        MessageState::Expired => (report_state::FAILED, 28),
        MessageState::Unknown => (report_state::FAILED, 29),
        MessageState::Deleted => (report_state::FAILED, 32),
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut links = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!("SGIP accept failed: {error}");
                        continue;
                    }
                };
                while links.try_join_next().is_some() {}
                if links.len() >= shared.config.max_connections {
                    bump(&shared.counters.connections_refused);
                    tracing::warn!("SGIP connection from {peer} closed: {} open", links.len());
                    continue;
                }
                bump(&shared.counters.connections);
                links.spawn(sp_link(stream, peer, Arc::clone(&shared), stopped.clone()));
            }
            _ = stopped.changed() => break,
        }
    }
    drop(listener);
    while links.join_next().await.is_some() {}
}

/// The Result for a Submit, and the reports it owes queued when it is 0.
fn answer_submit(
    shared: &Shared,
    login: Option<&Bytes>,
    sequence: Sequence,
    submit: &Submit,
) -> u32 {
    let (config, counters) = (&shared.config, &shared.counters);
    let throttle = config
        .faults
        .throttle_result
        .unwrap_or(u32::from(RESULT_NODE_BUSY));
    let checked = check_submit(submit);
    if checked != RESULT_OK {
        return u32::from(checked);
    }
    if let Some(result) = config.faults.draw_error() {
        bump(&counters.errors_injected);
        return result;
    }
    if !login.is_none_or(|name| shared.throttles.allow(name)) {
        bump(&counters.throttled);
        return throttle;
    }
    let due = Instant::now() + config.receipt_delay;
    let owed: Vec<Owed> = submit
        .user_numbers
        .iter()
        .filter_map(|number| {
            let (state, error_code) = sgip_state(config.faults.draw_state());
            report_owed(submit.report_flag, state).then(|| Owed {
                due,
                body: report(sequence, number.clone(), state, error_code),
                tries: 0,
            })
        })
        .collect();
    if owed.is_empty() {
        return 0;
    }
    // All or nothing: a Submit whose reports do not fit is refused, not half-reported.
    let Ok(permits) = shared.reports.try_reserve_many(owed.len()) else {
        bump(&counters.throttled);
        return throttle;
    };
    for (permit, owed) in permits.zip(owed) {
        permit.send(owed);
    }
    0
}

async fn sp_link(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    let (config, counters) = (&shared.config, &shared.counters);
    let (mut reader, mut writer) = stream.into_split();
    let mut decoder = FrameDecoder::default();
    let mut input = BytesMut::with_capacity(4096);
    let mut out = BytesMut::new();
    let start = Instant::now();
    let disconnect_at = config.faults.next_disconnect(start);
    let mut link = Acceptor::new(
        AcceptorConfig {
            peer: Role::Sp,
            node_id: config.node_id,
            accounts: config.accounts.clone(),
            max_unanswered: 64,
            response_timeout_ms: millis(config.response_timeout),
            idle_timeout_ms: millis(config.idle_timeout),
        },
        0,
    );
    let mut closed = false;
    loop {
        while let Some(event) = link.poll_event() {
            match event {
                Event::Bound { .. } => bump(&counters.logins),
                Event::Request(Pdu {
                    sequence,
                    body: Body::Submit(submit),
                }) => {
                    let result = answer_submit(&shared, link.login_name(), sequence, &submit);
                    bump(if result == 0 {
                        &counters.submits
                    } else {
                        &counters.submits_refused
                    });
                    // Results are one octet; an injected one above 255 is cut.
                    let _ = link.respond(sequence, u8::try_from(result).unwrap_or(u8::MAX));
                }
                Event::Closed(reason) => {
                    match reason {
                        CloseReason::BindRefused { .. } => bump(&counters.logins_refused),
                        CloseReason::PeerUnbound => bump(&counters.exits),
                        CloseReason::Idle => bump(&counters.idle_closed),
                        CloseReason::ProtocolError => bump(&counters.frame_errors),
                        _ => {}
                    }
                    tracing::debug!("SGIP link {peer} closed: {reason:?}");
                    closed = true;
                }
                other => tracing::debug!("SGIP link {peer}: {other:?}"),
            }
        }
        while let Some(pdu) = link.poll_transmit() {
            if let Err(error) = encode(&pdu, &mut out) {
                tracing::warn!("SGIP: cannot encode {:?}: {error}", pdu.body.command_id());
            }
        }
        if !out.is_empty() {
            if let Err(error) = writer.write_all(&out).await {
                tracing::debug!("SGIP link {peer}: write failed: {error}");
                break;
            }
            out.clear();
        }
        if closed {
            break;
        }
        let timeout = link
            .poll_timeout()
            .map(|ms| start + Duration::from_millis(ms));
        tokio::select! {
            read = reader.read_buf(&mut input) => {
                match read {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(error) => {
                        tracing::debug!("SGIP link {peer}: read failed: {error}");
                        break;
                    }
                }
                loop {
                    match decoder.decode(&mut input) {
                        Ok(None) => break,
                        Ok(Some(Ok(pdu))) => link.handle_pdu(now_since(start), pdu),
                        Ok(Some(Err(error))) => {
                            bump(&counters.decode_errors);
                            tracing::warn!("SGIP link {peer}: {error}");
                            link.handle_decode_error(now_since(start), &error);
                        }
                        Err(error) => {
                            tracing::warn!("SGIP link {peer}: {error}; closing");
                            link.handle_frame_error();
                            break;
                        }
                    }
                }
            }
            () = tokio::time::sleep_until(timeout.unwrap_or(start)), if timeout.is_some() => {
                link.handle_timeout(now_since(start));
            }
            () = tokio::time::sleep_until(disconnect_at.unwrap_or(start)), if disconnect_at.is_some() => {
                bump(&counters.disconnects);
                tracing::info!("SGIP link {peer}: dropped (--disconnect-rate)");
                break;
            }
            _ = stopped.changed() => link.unbind(now_since(start)),
        }
    }
    let _ = writer.shutdown().await;
}

/// The report link's connection, while there is one.
struct Connection {
    reader: tokio::net::tcp::OwnedReadHalf,
    writer: tokio::net::tcp::OwnedWriteHalf,
    input: BytesMut,
}

/// The report link: connects to `report_to` on demand and sends what is owed.
#[allow(clippy::too_many_lines)]
async fn report_link(
    shared: Arc<Shared>,
    mut owed: mpsc::Receiver<Owed>,
    mut stopped: watch::Receiver<bool>,
) {
    let (config, counters) = (&shared.config, &shared.counters);
    let start = Instant::now();
    let mut link = Initiator::new(InitiatorConfig {
        role: Role::Smg,
        node_id: config.node_id,
        login_name: config.report_account.0.clone(),
        login_password: config.report_account.1.clone(),
        window: config.window,
        response_timeout_ms: millis(config.response_timeout),
        idle_timeout_ms: millis(config.report_idle_timeout),
    });
    let mut decoder = FrameDecoder::default();
    let mut connection: Option<Connection> = None;
    let mut out = BytesMut::new();
    // Sent and unanswered, by sequence; and those to send again (at most the window).
    let mut in_flight: HashMap<Sequence, Owed> = HashMap::new();
    let mut retry: VecDeque<Owed> = VecDeque::new();
    let mut next: Option<Owed> = None;
    let mut senders_gone = false;
    let mut backoff_until = start;
    let mo_every = config
        .faults
        .mo_rate
        .filter(|r| *r > 0 && config.report_to.is_some())
        .map(|r| Duration::from_secs_f64(1.0 / f64::from(r)));
    let mut next_mo = mo_every.map(|every| start + every);
    let mut mo_count = 0usize;
    let mut stopping = false;
    loop {
        while let Some(event) = link.poll_event() {
            match event {
                Event::Bound { .. } => bump(&counters.report_links),
                Event::Response { sequence, pdu } => {
                    bump(&counters.deliver_resps);
                    let result = match &pdu.body {
                        Body::ReportResp(r) | Body::DeliverResp(r) => r.result,
                        _ => RESULT_OK,
                    };
                    if let Some(sent) = in_flight.remove(&sequence)
                        && result != RESULT_OK
                    {
                        // Refused (node busy, …): again later, as for no answer.
                        requeue(sent, config.max_tries, &mut retry, counters);
                    }
                }
                Event::TimedOut { sequence, .. } => {
                    bump(&counters.response_timeouts);
                    if let Some(sent) = in_flight.remove(&sequence) {
                        requeue(sent, config.max_tries, &mut retry, counters);
                    }
                }
                Event::Closed(reason) => {
                    tracing::debug!("SGIP report link closed: {reason:?}");
                    if matches!(
                        reason,
                        CloseReason::BindRefused { .. }
                            | CloseReason::BindTimedOut
                            | CloseReason::ProtocolError
                    ) {
                        bump(&counters.report_link_failures);
                        backoff_until = Instant::now() + REPORT_BACKOFF;
                    }
                }
                other => tracing::debug!("SGIP report link: {other:?}"),
            }
        }
        if let Some(conn) = connection.as_mut() {
            while let Some(pdu) = link.poll_transmit() {
                if let Err(error) = encode(&pdu, &mut out) {
                    tracing::warn!("SGIP: cannot encode {:?}: {error}", pdu.body.command_id());
                }
            }
            if !out.is_empty() {
                let written = conn.writer.write_all(&out).await;
                out.clear();
                if let Err(error) = written {
                    tracing::debug!("SGIP report link: write failed: {error}");
                    link.handle_frame_error();
                    continue;
                }
            }
        }
        let over = !link.is_bound()
            && !matches!(
                link.state(),
                smppgate_protocol::sgip::session::InitiatorState::Binding { .. }
                    | smppgate_protocol::sgip::session::InitiatorState::Unbinding { .. }
            );
        if over && let Some(mut conn) = connection.take() {
            let _ = conn.writer.shutdown().await;
        }
        if stopping && connection.is_none() {
            break;
        }
        if senders_gone
            && next.is_none()
            && retry.is_empty()
            && in_flight.is_empty()
            && connection.is_none()
        {
            break;
        }
        // What may go next, and when.
        let now = Instant::now();
        let mo_due = next_mo.filter(|_| retry.is_empty());
        let head_due = [
            retry.front().map(|o| o.due),
            mo_due,
            next.as_ref().map(|o| o.due),
        ]
        .into_iter()
        .flatten()
        .min();
        let can_send = link.is_bound() && link.in_flight() < config.window;
        let can_connect = connection.is_none() && config.report_to.is_some() && !stopping;
        let work_at = head_due.filter(|_| can_send || can_connect).map(|at| {
            if can_connect {
                at.max(backoff_until)
            } else {
                at
            }
        });
        let timeout = link
            .poll_timeout()
            .map(|ms| start + Duration::from_millis(ms));
        tokio::select! {
            read = async {
                match connection.as_mut() {
                    Some(conn) => conn.reader.read_buf(&mut conn.input).await,
                    None => std::future::pending().await,
                }
            }, if connection.is_some() => {
                match read {
                    Ok(0) | Err(_) => link.handle_frame_error(),
                    Ok(_) => {
                        let Some(conn) = connection.as_mut() else { continue };
                        loop {
                            match decoder.decode(&mut conn.input) {
                                Ok(None) => break,
                                Ok(Some(Ok(pdu))) => link.handle_pdu(now_since(start), pdu),
                                Ok(Some(Err(error))) => {
                                    bump(&counters.decode_errors);
                                    tracing::warn!("SGIP report link: {error}");
                                    link.handle_decode_error(now_since(start));
                                }
                                Err(error) => {
                                    tracing::warn!("SGIP report link: {error}; closing");
                                    link.handle_frame_error();
                                    break;
                                }
                            }
                        }
                    }
                }
            }
            item = owed.recv(), if next.is_none() && !senders_gone => {
                match item {
                    Some(item) => {
                        if config.report_to.is_none() {
                            bump(&counters.reports_dropped);
                        } else {
                            next = Some(item);
                        }
                    }
                    None => senders_gone = true,
                }
            }
            () = tokio::time::sleep_until(work_at.unwrap_or(now)), if work_at.is_some() => {
                if connection.is_none() {
                    let Some(addr) = config.report_to.as_deref() else { continue };
                    match tokio::time::timeout(config.response_timeout, TcpStream::connect(addr)).await {
                        Ok(Ok(stream)) => {
                            let (reader, writer) = stream.into_split();
                            connection = Some(Connection { reader, writer, input: BytesMut::with_capacity(1024) });
                            decoder = FrameDecoder::default();
                            let _ = link.bind(now_since(start));
                        }
                        Ok(Err(error)) => {
                            bump(&counters.report_link_failures);
                            tracing::info!("SGIP report link: cannot connect to {addr}: {error}");
                            backoff_until = Instant::now() + REPORT_BACKOFF;
                        }
                        Err(_) => {
                            bump(&counters.report_link_failures);
                            backoff_until = Instant::now() + REPORT_BACKOFF;
                        }
                    }
                    continue;
                }
                let now = Instant::now();
                let item = if retry.front().is_some_and(|o| o.due <= now) {
                    retry.pop_front()
                } else if next_mo.is_some_and(|at| at <= now) {
                    next_mo = next_mo.zip(mo_every).map(|(at, every)| (at + every).max(now));
                    let (from, coding, content) = mo_message(mo_count);
                    mo_count += 1;
                    bump(&counters.mo_sent);
                    Some(Owed {
                        due: now,
                        body: mo(Bytes::from_static(from.as_bytes()), Bytes::from_static(MO_SP_NUMBER), coding, content),
                        tries: 0,
                    })
                } else if next.as_ref().is_some_and(|o| o.due <= now) {
                    next.take()
                } else {
                    None
                };
                if let Some(mut item) = item {
                    match link.send_request(now_since(start), item.body.clone()) {
                        Ok(sequence) => {
                            if matches!(item.body, Body::Report(_)) && item.tries == 0 {
                                bump(&counters.reports_sent);
                            }
                            item.tries = item.tries.saturating_add(1);
                            in_flight.insert(sequence, item);
                        }
                        Err(error) => {
                            tracing::debug!("SGIP report link: {error}");
                            retry.push_front(item);
                        }
                    }
                }
            }
            () = tokio::time::sleep_until(timeout.unwrap_or(start)), if timeout.is_some() => {
                link.handle_timeout(now_since(start));
            }
            _ = stopped.changed(), if !stopping => {
                stopping = true;
                link.unbind(now_since(start));
            }
        }
    }
    let left = retry.len() + in_flight.len() + usize::from(next.is_some());
    add(&counters.reports_dropped, left);
}

/// A Report or MO sent and not answered (or refused): again, or given up after
/// `max_tries` sends.
fn requeue(item: Owed, max_tries: u8, retry: &mut VecDeque<Owed>, counters: &CarrierCounters) {
    if item.tries >= max_tries {
        bump(&counters.reports_dropped);
    } else {
        retry.push_back(Owed {
            due: Instant::now(),
            ..item
        });
    }
}
