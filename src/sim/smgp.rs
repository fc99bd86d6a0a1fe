//! `smppgate sim --protocol smgp`: a simulated China Telecom SMGW. The protocol rules live
//! in the sans-IO [`smppgate_protocol::smgp::smgw::Smgw`]; this is its socket loop, the
//! same shape as the CMPP simulator's: one task per connection (at most
//! `max_connections`), frames read through the capped [`FrameDecoder`], every owed status
//! report (DELIVRD, or drawn from the receipt states) sent once its delay has passed and
//! the Deliver window has room, MO at `--mo-rate` on links that may receive, Active_Test
//! when the link is quiet, and the faults of [`CarrierFaults`].
//!
//! Bounded: the read buffer holds at most one frame beyond what was decoded, each
//! connection keeps at most `receipt_queue` owed reports (past that, Submits get the
//! throttle Status), writes are awaited before the next read, and MO waits for room in the
//! window instead of queueing. Reports go out on the link that submitted, whatever its
//! LoginMode (as the CMPP simulator does).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use serde_json::Value;
use smppgate_protocol::receipt::MessageState;
use smppgate_protocol::smgp::smgw::{Action, OwedReport, Smgw, SmgwConfig};
use smppgate_protocol::smgp::{
    Body, CommandId, FrameDecoder, MsgId, MsgIdStatus, Pdu, STATUS_FLOW_CONTROL, encode, login_mode,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use super::china::{CarrierCounters, CarrierFaults, Throttles, add, bump, millis, mo_message};
use super::utc_now;

/// Most destinations of one Submit: the most reports one Submit can owe.
const MAX_DESTINATIONS: usize = 100;

/// The SMGP simulator's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmgpSimConfig {
    /// Where to listen (`host:port`, port 0 allowed).
    pub listen: String,
    /// Who may log in: (ClientID, shared secret); empty: anyone.
    pub accounts: Vec<(Bytes, Bytes)>,
    /// The SMGW code (six digits) in every MsgID.
    pub gateway_code: u32,
    /// Delay between a Submit and its status report.
    pub receipt_delay: Duration,
    /// Delivers (reports, MO) unanswered per connection, at most.
    pub window: usize,
    /// Connections at once, at most (more are closed at once).
    pub max_connections: usize,
    /// Owed reports per connection, at most (beyond: the throttle Status).
    pub receipt_queue: usize,
    /// A Deliver unanswered this long is sent again (reports) or dropped (MO).
    pub response_timeout: Duration,
    /// Sends of one report at most, then it is dropped.
    pub max_tries: u8,
    /// Nothing received for this long: we send Active_Test.
    pub active_test_interval: Duration,
    /// Nothing received for this long: the link is closed (after our Active_Tests went
    /// unanswered; one that never logs in does not hold a slot for ever either).
    pub idle_timeout: Duration,
    /// Faults.
    pub faults: CarrierFaults,
}

impl Default for SmgpSimConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8890".to_owned(),
            accounts: Vec::new(),
            gateway_code: 590_001,
            receipt_delay: Duration::from_millis(100),
            window: 256,
            max_connections: 1024,
            receipt_queue: 10_000,
            response_timeout: Duration::from_secs(60),
            max_tries: 3,
            active_test_interval: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(180),
            faults: CarrierFaults::default(),
        }
    }
}

/// A running SMGP simulator.
#[derive(Debug)]
pub struct SmgpSim {
    addr: SocketAddr,
    counters: Arc<CarrierCounters>,
    stop: watch::Sender<bool>,
    accept: JoinHandle<()>,
}

impl SmgpSim {
    /// Starts listening.
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn start(config: SmgpSimConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind(&config.listen).await?;
        let addr = listener.local_addr()?;
        let counters = Arc::new(CarrierCounters::default());
        let (stop, stopped) = watch::channel(false);
        let shared = Arc::new(Shared {
            throttles: Throttles::new(config.faults.tps),
            config,
            counters: Arc::clone(&counters),
        });
        let accept = tokio::spawn(accept_loop(listener, shared, stopped));
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
    pub fn counters(&self) -> &CarrierCounters {
        &self.counters
    }

    /// Stops accepting, sends Exit on every link and waits up to `grace` for them to
    /// close; returns the final counters.
    pub async fn shutdown(self, grace: Duration) -> Value {
        let _ = self.stop.send(true);
        if tokio::time::timeout(grace + Duration::from_millis(100), self.accept)
            .await
            .is_err()
        {
            tracing::warn!("some SMGP links did not close within {grace:?}");
        }
        self.counters.to_json()
    }
}

struct Shared {
    config: SmgpSimConfig,
    counters: Arc<CarrierCounters>,
    throttles: Throttles,
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
                        tracing::warn!("SMGP accept failed: {error}");
                        continue;
                    }
                };
                while links.try_join_next().is_some() {}
                if links.len() >= shared.config.max_connections {
                    bump(&shared.counters.connections_refused);
                    tracing::warn!("SMGP connection from {peer} closed: {} open", links.len());
                    continue;
                }
                bump(&shared.counters.connections);
                links.spawn(link(stream, peer, Arc::clone(&shared), stopped.clone()));
            }
            _ = stopped.changed() => break,
        }
    }
    drop(listener);
    while links.join_next().await.is_some() {}
}

/// An owed report: when it is due, what, and the stat and err it carried when it is a
/// resend (a first send draws them).
type Due = (Instant, OwedReport, Option<(Bytes, Bytes)>);

/// One link: the [`Smgw`] between a socket and a queue of owed reports.
struct Link {
    smgw: Smgw,
    owed: VecDeque<Due>,
    out: BytesMut,
    closing: Option<&'static str>,
}

impl Link {
    fn send(&mut self, pdu: &Pdu) {
        if let Err(error) = encode(pdu, &mut self.out) {
            tracing::warn!("SMGP: cannot encode {:?}: {error}", pdu.body.command_id());
            self.closing = Some("encode error");
        }
    }

    fn can_receive(&self) -> bool {
        self.smgw
            .login()
            .is_some_and(|(_, mode)| *mode != login_mode::SEND)
    }
}

/// stat and err of a final state: err 000 when delivered, else the state's number.
fn stat_err(state: MessageState) -> (Bytes, Bytes) {
    let err = if state == MessageState::Delivered {
        "000".to_owned()
    } else {
        format!("{:03}", state as u8)
    };
    (
        Bytes::from_static(state.stat().as_bytes()),
        Bytes::from(err),
    )
}

#[allow(clippy::too_many_lines)]
async fn link(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    let config = &shared.config;
    let counters = &shared.counters;
    let (mut reader, mut writer) = stream.into_split();
    let mut decoder = FrameDecoder::default();
    let mut input = BytesMut::with_capacity(4096);
    let mut actions = Vec::new();
    let start = Instant::now();
    let mut last_heard = start;
    let mut active_test_sent = false;
    let disconnect_at = config.faults.next_disconnect(start);
    let mo_every = config
        .faults
        .mo_rate
        .filter(|r| *r > 0)
        .map(|r| Duration::from_secs_f64(1.0 / f64::from(r)));
    let mut next_mo = mo_every.map(|every| start + every);
    let mut mo_count = 0usize;
    let mut link = Link {
        smgw: Smgw::new(SmgwConfig {
            accounts: config.accounts.clone(),
            gateway_code: config.gateway_code,
            window: config.window,
            response_timeout_ms: millis(config.response_timeout),
            max_tries: config.max_tries,
        }),
        owed: VecDeque::new(),
        out: BytesMut::new(),
        closing: None,
    };
    loop {
        if !link.out.is_empty() {
            if let Err(error) = writer.write_all(&link.out).await {
                tracing::debug!("SMGP link {peer}: write failed: {error}");
                break;
            }
            link.out.clear();
        }
        if let Some(reason) = link.closing {
            tracing::debug!("SMGP link {peer} closed: {reason}");
            break;
        }
        let due = link
            .owed
            .front()
            .filter(|_| link.smgw.can_deliver())
            .map(|(at, ..)| *at);
        let resend_at = link
            .smgw
            .poll_timeout()
            .map(|ms| start + Duration::from_millis(ms));
        let mo_at = next_mo.filter(|_| link.can_receive() && link.smgw.can_deliver());
        let heartbeat_at = if active_test_sent {
            last_heard + config.idle_timeout
        } else {
            (last_heard + config.active_test_interval).min(last_heard + config.idle_timeout)
        };
        tokio::select! {
            read = reader.read_buf(&mut input) => {
                match read {
                    Ok(0) => break,
                    Ok(_) => {
                        last_heard = Instant::now();
                        active_test_sent = false;
                    }
                    Err(error) => {
                        tracing::debug!("SMGP link {peer}: read failed: {error}");
                        break;
                    }
                }
                read_frames(&mut link, &mut decoder, &mut input, &mut actions, &shared, peer);
            }
            () = tokio::time::sleep_until(due.unwrap_or(start)), if due.is_some() => {
                if let Some((_, owed, carried)) = link.owed.pop_front() {
                    let (stat, err) = carried.unwrap_or_else(|| stat_err(config.faults.draw_state()));
                    if let Some(pdu) = link.smgw.report(&owed, &stat, &err, &utc_now(), millis(start.elapsed())) {
                        bump(&counters.reports_sent);
                        link.send(&pdu);
                    }
                }
            }
            () = tokio::time::sleep_until(mo_at.unwrap_or(start)), if mo_at.is_some() => {
                let (from, coding, content) = mo_message(mo_count);
                mo_count += 1;
                let to = link.smgw.login().map(|(name, _)| name.clone()).unwrap_or_default();
                if let Some(pdu) = link.smgw.mo(from.as_bytes(), &to, coding, content, &utc_now(), millis(start.elapsed())) {
                    bump(&counters.mo_sent);
                    link.send(&pdu);
                }
                next_mo = next_mo.zip(mo_every).map(|(at, every)| (at + every).max(Instant::now()));
            }
            () = tokio::time::sleep_until(resend_at.unwrap_or(start)), if resend_at.is_some() => {
                let expired = link.smgw.handle_timeout(millis(start.elapsed()));
                add(&counters.response_timeouts, expired.retry.len() + expired.dropped);
                add(&counters.reports_dropped, expired.dropped);
                let now = Instant::now();
                for (owed, stat, err) in expired.retry.into_iter().rev() {
                    link.owed.push_front((now, owed, Some((stat, err))));
                }
            }
            () = tokio::time::sleep_until(heartbeat_at) => {
                if Instant::now() >= last_heard + config.idle_timeout {
                    bump(&counters.idle_closed);
                    tracing::info!("SMGP link {peer}: nothing received for {:?}", config.idle_timeout);
                    link.closing = Some("idle");
                } else if link.smgw.login().is_some() {
                    let test = link.smgw.active_test();
                    bump(&counters.active_tests_sent);
                    link.send(&test);
                    active_test_sent = true;
                } else {
                    active_test_sent = true;
                }
            }
            () = tokio::time::sleep_until(disconnect_at.unwrap_or(start)), if disconnect_at.is_some() => {
                bump(&counters.disconnects);
                tracing::info!("SMGP link {peer}: dropped (--disconnect-rate)");
                link.closing = Some("random disconnect");
            }
            _ = stopped.changed() => {
                let exit = link.smgw.exit();
                link.send(&exit);
                link.closing = Some("simulator stopping");
            }
        }
    }
    if !link.owed.is_empty() {
        add(&counters.reports_dropped, link.owed.len());
        tracing::info!(
            "SMGP link {peer} closed with {} reports owed",
            link.owed.len()
        );
    }
    let _ = writer.shutdown().await;
}

fn read_frames(
    link: &mut Link,
    decoder: &mut FrameDecoder,
    input: &mut BytesMut,
    actions: &mut Vec<Action>,
    shared: &Shared,
    peer: SocketAddr,
) {
    let (config, counters) = (&shared.config, &shared.counters);
    let throttle = config.faults.throttle_result.unwrap_or(STATUS_FLOW_CONTROL);
    while link.closing.is_none() {
        let pdu = match decoder.decode(input) {
            Ok(None) => return,
            Ok(Some(Ok(pdu))) => pdu,
            Ok(Some(Err(error))) => {
                bump(&counters.decode_errors);
                tracing::warn!("SMGP link {peer}: {error}");
                // A Submit we cannot read still gets its answer: Status 10, bad structure.
                if error.command_id == CommandId::Submit.to_u32() && link.smgw.login().is_some() {
                    link.send(&Pdu {
                        sequence_id: error.sequence,
                        body: Body::SubmitResp(MsgIdStatus {
                            msg_id: MsgId::default(),
                            status: smppgate_protocol::smgp::smgw::STATUS_BAD_STRUCTURE,
                        }),
                    });
                } else if link.smgw.login().is_none() {
                    link.closing = Some("undecodable packet before login");
                }
                continue;
            }
            Err(error) => {
                bump(&counters.frame_errors);
                tracing::warn!("SMGP link {peer}: {error}; closing");
                link.closing = Some("framing lost");
                return;
            }
        };
        match pdu.body {
            Body::DeliverResp(_) => bump(&counters.deliver_resps),
            Body::ActiveTest => bump(&counters.active_tests),
            Body::Exit => bump(&counters.exits),
            _ => {}
        }
        let status = if !matches!(pdu.body, Body::Submit(_)) {
            0
        } else if link.owed.len() + MAX_DESTINATIONS > config.receipt_queue {
            bump(&counters.throttled);
            throttle
        } else if let Some(status) = config.faults.draw_error() {
            bump(&counters.errors_injected);
            status
        } else if !link
            .smgw
            .login()
            .is_none_or(|(name, _)| shared.throttles.allow(name))
        {
            bump(&counters.throttled);
            throttle
        } else {
            0
        };
        let was_logged_in = link.smgw.login().is_some();
        link.smgw.handle(pdu, &utc_now(), status, actions);
        if !was_logged_in && matches!(actions.first(), Some(Action::Send(_))) {
            bump(if link.smgw.login().is_some() {
                &counters.logins
            } else {
                &counters.logins_refused
            });
        }
        let due = Instant::now() + config.receipt_delay;
        for action in actions.drain(..) {
            match action {
                Action::Send(pdu) => {
                    if let Body::SubmitResp(resp) = &pdu.body {
                        bump(if resp.status == 0 {
                            &counters.submits
                        } else {
                            &counters.submits_refused
                        });
                    }
                    link.send(&pdu);
                }
                Action::Owe(owed) => link.owed.push_back((due, owed, None)),
                Action::Close(reason) => link.closing = Some(reason),
            }
        }
    }
}
