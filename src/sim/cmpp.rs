//! `smppgate sim --protocol cmpp2|cmpp3`: a simulated China Mobile ISMG. The protocol rules
//! live in the sans-IO [`smppgate_protocol::cmpp::ismg::Ismg`]; this is its socket loop:
//! one task per connection (at most `max_connections`), reading frames through the
//! capped [`FrameDecoder`], writing what the link answers, and sending each owed status
//! report (Stat DELIVRD, or drawn from `receipt_states`) once its delay has passed and the report window has room.
//! Faults shared with SMGP and SGIP ([`super::china`]): a SUBMIT rate per SP id (`tps`,
//! answered `throttle_result`, default Result 8), random disconnects and MO DELIVERs in
//! ASCII, UCS-2 and GBK through the same window.
//!
//! Bounded: the read buffer holds at most one frame beyond what was decoded (the decoder
//! refuses a length over its cap before buffering it), each connection keeps at most
//! `receipt_queue` owed reports (past that, SUBMITs get Result 8, flow control), and writes
//! are awaited before the next read (a client that does not read stops being read).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use serde_json::{Value, json};
use smppgate_protocol::cmpp::ismg::{Action, Ismg, IsmgConfig, OwedReport};
use smppgate_protocol::cmpp::{
    Body, CommandId, FrameDecoder, Pdu, RESULT_FLOW_CONTROL, SubmitResp, Version, encode,
};
use smppgate_protocol::receipt::MessageState;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use super::china::{CarrierFaults, Throttles, mo_message};
use super::faults::{draw_error, pick};
use super::utc_now;

/// Most destinations of one SUBMIT: the most reports one SUBMIT can owe.
const MAX_DESTINATIONS: usize = 100;

/// The CMPP simulator's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmppSimConfig {
    /// Where to listen (`host:port`, port 0 allowed).
    pub listen: String,
    /// CMPP 2.0 or 3.0.
    pub version: Version,
    /// Who may log in: (Source_Addr, shared secret); empty: anyone.
    pub accounts: Vec<(Bytes, Bytes)>,
    /// Delay between a SUBMIT and its status report.
    pub receipt_delay: Duration,
    /// Report DELIVERs unanswered per connection, at most.
    pub window: usize,
    /// Connections at once, at most (more are closed at once).
    pub max_connections: usize,
    /// Owed reports per connection, at most (beyond: SUBMIT Result 8).
    pub receipt_queue: usize,
    /// A report DELIVER unanswered this long is sent again (CMPP's T).
    pub response_timeout: Duration,
    /// Sends of one report at most, then it is dropped (CMPP's N).
    pub max_tries: u8,
    /// A link that sends nothing for this long is closed (an SP sends ACTIVE_TEST when
    /// idle; one that never logs in does not hold a connection slot for ever).
    pub idle_timeout: Duration,
    /// SUBMIT Results to inject and their share in basis points (`--error-rate 8=10`).
    pub error_rate: Vec<(u32, u32)>,
    /// Final report states by weight (`--receipt-states DELIVRD=90,UNDELIV=10`); empty:
    /// all DELIVRD.
    pub receipt_states: Vec<(MessageState, u32)>,
    /// Accepted SUBMITs per second per Source_Addr, across its links (GCRA); the excess
    /// gets `throttle_result`.
    pub tps: Option<u32>,
    /// The Result for a SUBMIT over `tps` (and for one that finds the report queue full);
    /// `None`: 8, flow control.
    pub throttle_result: Option<u32>,
    /// Expected disconnects per link per minute, in basis points (Poisson).
    pub disconnect_rate: Option<u32>,
    /// MO DELIVERs per second per logged-in link.
    pub mo_rate: Option<u32>,
}

impl Default for CmppSimConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:7890".to_owned(),
            version: Version::V3,
            accounts: Vec::new(),
            receipt_delay: Duration::from_millis(100),
            window: 256,
            max_connections: 1024,
            receipt_queue: 10_000,
            response_timeout: Duration::from_secs(60),
            max_tries: 3,
            // CMPP's heartbeat: ACTIVE_TEST after 60 s idle, given up after 3 tries.
            idle_timeout: Duration::from_secs(180),
            error_rate: Vec::new(),
            receipt_states: Vec::new(),
            tps: None,
            throttle_result: None,
            disconnect_rate: None,
            mo_rate: None,
        }
    }
}

/// What the CMPP simulator counts; printed as one JSON line at exit.
#[derive(Debug, Default)]
pub struct CmppCounters {
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Connections closed at once because `max_connections` were open.
    pub connections_refused: AtomicU64,
    /// CONNECTs answered Status 0.
    pub logins: AtomicU64,
    /// CONNECTs refused (Status 2, 3 or 4).
    pub logins_refused: AtomicU64,
    /// SUBMITs answered Result 0.
    pub submits: AtomicU64,
    /// SUBMITs answered another Result.
    pub submits_refused: AtomicU64,
    /// SUBMITs given an injected Result (`--error-rate`).
    pub errors_injected: AtomicU64,
    /// SUBMITs over `tps` (or finding the report queue full): the throttle Result.
    pub throttled: AtomicU64,
    /// Links dropped at random (`--disconnect-rate`).
    pub disconnects: AtomicU64,
    /// MO DELIVERs sent.
    pub mo_sent: AtomicU64,
    /// Status-report DELIVERs sent.
    pub reports_sent: AtomicU64,
    /// DELIVER_RESPs received.
    pub deliver_resps: AtomicU64,
    /// ACTIVE_TESTs answered.
    pub active_tests: AtomicU64,
    /// TERMINATEs received.
    pub terminates: AtomicU64,
    /// Frames that were not valid packets.
    pub decode_errors: AtomicU64,
    /// Streams that could not be framed any more (closed).
    pub frame_errors: AtomicU64,
    /// Links closed after `idle_timeout` without a packet.
    pub idle_closed: AtomicU64,
    /// Report DELIVERs unanswered within `response_timeout` (sent again, or dropped after
    /// `max_tries`).
    pub response_timeouts: AtomicU64,
    /// Reports owed on a link when it closed, or unanswered `max_tries` times (not sent: this ISMG delivers a report only
    /// on the link that submitted).
    pub reports_dropped: AtomicU64,
}

impl CmppCounters {
    /// The counters as a JSON object.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        json!({
            "connections": n(&self.connections),
            "connections_refused": n(&self.connections_refused),
            "logins": n(&self.logins),
            "logins_refused": n(&self.logins_refused),
            "submits": n(&self.submits),
            "submits_refused": n(&self.submits_refused),
            "errors_injected": n(&self.errors_injected),
            "throttled": n(&self.throttled),
            "disconnects": n(&self.disconnects),
            "mo_sent": n(&self.mo_sent),
            "reports_sent": n(&self.reports_sent),
            "deliver_resps": n(&self.deliver_resps),
            "active_tests": n(&self.active_tests),
            "terminates": n(&self.terminates),
            "decode_errors": n(&self.decode_errors),
            "frame_errors": n(&self.frame_errors),
            "idle_closed": n(&self.idle_closed),
            "reports_dropped": n(&self.reports_dropped),
            "response_timeouts": n(&self.response_timeouts),
        })
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// A running CMPP simulator.
#[derive(Debug)]
pub struct CmppSim {
    addr: SocketAddr,
    counters: Arc<CmppCounters>,
    stop: watch::Sender<bool>,
    accept: JoinHandle<()>,
}

impl CmppSim {
    /// Starts listening.
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn start(config: CmppSimConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind(&config.listen).await?;
        let addr = listener.local_addr()?;
        let counters = Arc::new(CmppCounters::default());
        let (stop, stopped) = watch::channel(false);
        let accept = tokio::spawn(accept_loop(
            listener,
            Arc::new(config),
            Arc::clone(&counters),
            stopped,
        ));
        Ok(Self {
            addr,
            counters,
            stop,
            accept,
        })
    }

    /// The address listened on.
    #[must_use]
    pub const fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The counters, live.
    #[must_use]
    pub fn counters(&self) -> &CmppCounters {
        &self.counters
    }

    /// Stops accepting, sends TERMINATE on every link and waits up to `grace` for them to
    /// close; returns the final counters.
    pub async fn shutdown(self, grace: Duration) -> Value {
        let _ = self.stop.send(true);
        if tokio::time::timeout(grace + Duration::from_millis(100), self.accept)
            .await
            .is_err()
        {
            tracing::warn!("some CMPP links did not close within {grace:?}");
        }
        self.counters.to_json()
    }
}

async fn accept_loop(
    listener: TcpListener,
    config: Arc<CmppSimConfig>,
    counters: Arc<CmppCounters>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut links = JoinSet::new();
    let mut next_gateway_id: u32 = 0;
    let throttles = Arc::new(Throttles::new(config.tps));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!("CMPP accept failed: {error}");
                        continue;
                    }
                };
                while links.try_join_next().is_some() {}
                if links.len() >= config.max_connections {
                    bump(&counters.connections_refused);
                    tracing::warn!("CMPP connection from {peer} closed: {} open", links.len());
                    continue;
                }
                bump(&counters.connections);
                // One gateway id per connection (22 bits): Msg_Ids of two links never meet.
                next_gateway_id = next_gateway_id % 0x3F_FFFF + 1;
                links.spawn(link(
                    stream,
                    peer,
                    Arc::clone(&config),
                    next_gateway_id,
                    Arc::clone(&counters),
                    Arc::clone(&throttles),
                    stopped.clone(),
                ));
            }
            _ = stopped.changed() => break,
        }
    }
    drop(listener);
    while links.join_next().await.is_some() {}
}

/// One link: the [`Ismg`] between a socket and a queue of owed reports.
struct Link {
    ismg: Ismg,
    version: Version,
    owed: VecDeque<(Instant, OwedReport)>,
    out: BytesMut,
    closing: Option<&'static str>,
    /// The SUBMIT rate limiters, shared by all links.
    throttles: Arc<Throttles>,
}

impl Link {
    fn send(&mut self, pdu: &Pdu) {
        if let Err(error) = encode(pdu, self.version, &mut self.out) {
            tracing::warn!("CMPP: cannot encode {:?}: {error}", pdu.body.command_id());
            self.closing = Some("encode error");
        }
    }
}

async fn link(
    stream: TcpStream,
    peer: SocketAddr,
    config: Arc<CmppSimConfig>,
    gateway_id: u32,
    counters: Arc<CmppCounters>,
    throttles: Arc<Throttles>,
    mut stopped: watch::Receiver<bool>,
) {
    let (mut reader, mut writer) = stream.into_split();
    let mut decoder = FrameDecoder::new(config.version);
    let mut input = BytesMut::with_capacity(4096);
    let mut actions = Vec::new();
    let start = Instant::now();
    let mut idle_deadline = start + config.idle_timeout;
    let disconnect_at = CarrierFaults {
        disconnect_rate: config.disconnect_rate,
        ..CarrierFaults::default()
    }
    .next_disconnect(start);
    let mo_every = config
        .mo_rate
        .filter(|r| *r > 0)
        .map(|r| Duration::from_secs_f64(1.0 / f64::from(r)));
    let mut next_mo = mo_every.map(|every| start + every);
    let mut mo_count = 0usize;
    let mut link = Link {
        ismg: Ismg::new(IsmgConfig {
            version: config.version,
            accounts: config.accounts.clone(),
            gateway_id,
            window: config.window,
            response_timeout_ms: millis(config.response_timeout),
            max_tries: config.max_tries,
        }),
        version: config.version,
        owed: VecDeque::new(),
        out: BytesMut::new(),
        closing: None,
        throttles,
    };
    loop {
        if !link.out.is_empty() {
            if let Err(error) = writer.write_all(&link.out).await {
                tracing::debug!("CMPP link {peer}: write failed: {error}");
                break;
            }
            link.out.clear();
        }
        if let Some(reason) = link.closing {
            tracing::debug!("CMPP link {peer} closed: {reason}");
            break;
        }
        let due = link
            .owed
            .front()
            .filter(|_| link.ismg.can_report())
            .map(|(at, _)| *at);
        let mo_at = next_mo.filter(|_| link.ismg.can_report());
        let resend_at = link
            .ismg
            .poll_timeout()
            .map(|ms| start + Duration::from_millis(ms));
        tokio::select! {
            read = reader.read_buf(&mut input) => {
                match read {
                    Ok(0) => break,
                    Ok(_) => idle_deadline = Instant::now() + config.idle_timeout,
                    Err(error) => {
                        tracing::debug!("CMPP link {peer}: read failed: {error}");
                        break;
                    }
                }
                read_frames(&mut link, &mut decoder, &mut input, &mut actions, &config, &counters, peer);
            }
            () = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {
                let stat = pick(&config.receipt_states).map_or("DELIVRD", MessageState::stat);
                if let Some((_, owed)) = link.owed.pop_front()
                    && let Some(pdu) =
                        link.ismg.report(&owed, stat.as_bytes(), &utc_now(), millis(start.elapsed()))
                {
                    bump(&counters.reports_sent);
                    link.send(&pdu);
                }
            }
            () = tokio::time::sleep_until(resend_at.unwrap_or(start)), if resend_at.is_some() => {
                let expired = link.ismg.handle_timeout(millis(start.elapsed()));
                let timeouts = expired.retry.len() + expired.dropped;
                counters.response_timeouts.fetch_add(timeouts as u64, Ordering::Relaxed);
                counters.reports_dropped.fetch_add(expired.dropped as u64, Ordering::Relaxed);
                tracing::info!("CMPP link {peer}: {timeouts} report DELIVERs unanswered");
                let now = Instant::now();
                for owed in expired.retry.into_iter().rev() {
                    link.owed.push_front((now, owed));
                }
            }
            () = tokio::time::sleep_until(mo_at.unwrap_or(start)), if mo_at.is_some() => {
                let (from, format, content) = mo_message(mo_count);
                mo_count += 1;
                if let Some(pdu) = link.ismg.mo(from.as_bytes(), format, content, &utc_now(), millis(start.elapsed())) {
                    bump(&counters.mo_sent);
                    link.send(&pdu);
                }
                next_mo = next_mo.zip(mo_every).map(|(at, every)| (at + every).max(Instant::now()));
            }
            () = tokio::time::sleep_until(disconnect_at.unwrap_or(start)), if disconnect_at.is_some() => {
                bump(&counters.disconnects);
                tracing::info!("CMPP link {peer}: dropped (--disconnect-rate)");
                link.closing = Some("random disconnect");
            }
            () = tokio::time::sleep_until(idle_deadline) => {
                bump(&counters.idle_closed);
                tracing::info!("CMPP link {peer}: nothing received for {:?}", config.idle_timeout);
                link.closing = Some("idle");
            }
            _ = stopped.changed() => {
                let terminate = link.ismg.terminate();
                link.send(&terminate);
                link.closing = Some("simulator stopping");
            }
        }
    }
    let dropped = u64::try_from(link.owed.len()).unwrap_or(u64::MAX);
    if dropped > 0 {
        counters
            .reports_dropped
            .fetch_add(dropped, Ordering::Relaxed);
        tracing::info!("CMPP link {peer} closed with {dropped} reports owed");
    }
    let _ = writer.shutdown().await;
}

fn read_frames(
    link: &mut Link,
    decoder: &mut FrameDecoder,
    input: &mut BytesMut,
    actions: &mut Vec<Action>,
    config: &CmppSimConfig,
    counters: &CmppCounters,
    peer: SocketAddr,
) {
    let throttle = config.throttle_result.unwrap_or(RESULT_FLOW_CONTROL);
    while link.closing.is_none() {
        let pdu = match decoder.decode(input) {
            Ok(None) => return,
            Ok(Some(Ok(pdu))) => pdu,
            Ok(Some(Err(error))) => {
                bump(&counters.decode_errors);
                tracing::warn!("CMPP link {peer}: {error}");
                // A SUBMIT we cannot read still gets its answer: Result 1, bad structure.
                if error.command_id == CommandId::Submit.to_u32() && link.ismg.login().is_some() {
                    link.send(&Pdu {
                        sequence_id: error.sequence,
                        body: Body::SubmitResp(SubmitResp {
                            msg_id: 0,
                            result: smppgate_protocol::cmpp::ismg::RESULT_BAD_STRUCTURE,
                        }),
                    });
                } else if link.ismg.login().is_none() {
                    link.closing = Some("undecodable packet before login");
                }
                continue;
            }
            Err(error) => {
                bump(&counters.frame_errors);
                tracing::warn!("CMPP link {peer}: {error}; closing");
                link.closing = Some("framing lost");
                return;
            }
        };
        count_request(&pdu, counters);
        let result = if !matches!(pdu.body, Body::Submit(_)) {
            0
        } else if link.owed.len() + MAX_DESTINATIONS > config.receipt_queue {
            bump(&counters.throttled);
            throttle
        } else if let Some(result) = draw_error(&config.error_rate) {
            bump(&counters.errors_injected);
            result
        } else if !link
            .ismg
            .login()
            .is_none_or(|name| link.throttles.allow(name))
        {
            bump(&counters.throttled);
            throttle
        } else {
            0
        };
        let was_logged_in = link.ismg.login().is_some();
        link.ismg.handle(pdu, &utc_now(), result, actions);
        if !was_logged_in && matches!(actions.first(), Some(Action::Send(_))) {
            if link.ismg.login().is_some() {
                bump(&counters.logins);
            } else {
                bump(&counters.logins_refused);
            }
        }
        let due = Instant::now() + config.receipt_delay;
        for action in actions.drain(..) {
            match action {
                Action::Send(pdu) => {
                    if let Body::SubmitResp(resp) = &pdu.body {
                        bump(if resp.result == 0 {
                            &counters.submits
                        } else {
                            &counters.submits_refused
                        });
                    }
                    link.send(&pdu);
                }
                Action::Owe(owed) => link.owed.push_back((due, owed)),
                Action::Close(reason) => link.closing = Some(reason),
            }
        }
    }
}

/// Milliseconds, saturating.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn count_request(pdu: &Pdu, counters: &CmppCounters) {
    match pdu.body {
        Body::DeliverResp(_) => bump(&counters.deliver_resps),
        Body::ActiveTest => bump(&counters.active_tests),
        Body::Terminate => bump(&counters.terminates),
        _ => {}
    }
}
