//! [`SimHandler`]: the simulator's answers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{
    DataSm, DeliverSm, DestAddress, Pdu, QuerySm, QuerySmResp, SubmitMulti, SubmitMultiResp,
    SubmitSm,
};
use smppgate_protocol::receipt::{MessageState, ReceiptBuilder};
use smppgate_protocol::session::{CloseReason, SessionStats};
use smppgate_protocol::text::TextConfig;
use smppgate_protocol::text::coding;
use smppgate_protocol::tlv::{TlvTag, Tlvs};
use smppgate_protocol::types::{
    Address, DataCoding, EsmClass, RegisteredDelivery, SmppTime, SmscReceipt,
};
use tokio::time::Instant;

use super::counters::{Counters, add, bump};
use super::faults::{self, Faults, ReceiptFormat, ReceiptIdStyle};
use super::gcra::Gcra;
use super::receipts::{self, ReceiptJob, ReceiptQueue};
use super::{IdFormat, SimConfig, clock};
use crate::smsc::{
    BindRequest, MessageId, Registry, Reply, SessionHandle, SessionInfo, SmscHandler,
};

/// Submission times of the most recent ids, for query_sm (older ids count as delivered).
const RECENT_IDS: usize = 1 << 16;

/// Per system_id: its rate limiter and binds.
#[derive(Debug)]
struct SystemState {
    gcra: Option<Gcra>,
    active: AtomicUsize,
}

/// Per bound connection.
#[derive(Debug)]
struct ConnState {
    handle: SessionHandle,
    system: Arc<SystemState>,
    received: AtomicU64,
}

/// What the fault checks decided for a request.
enum Gate {
    Pass,
    Fail(CommandStatus),
    Silent,
    Drop(SessionHandle),
    Closing,
}

/// The simulator's [`SmscHandler`].
#[derive(Debug)]
pub struct SimHandler {
    system_id: Option<Bytes>,
    password: Option<Bytes>,
    receipt_delay: Duration,
    id_format: IdFormat,
    faults: Faults,
    accounts: HashMap<Bytes, Bytes>,
    systems: Mutex<HashMap<Bytes, Arc<SystemState>>>,
    conns: Mutex<HashMap<u64, Arc<ConnState>>>,
    binds_accepted: AtomicU64,
    registry: OnceLock<Arc<Registry>>,
    /// Random high half of uuid ids (fixed per run).
    uuid_high: u64,
    counters: Arc<Counters>,
    /// First id issued (ids count up from it; unique across runs as it comes from the clock).
    first_id: u64,
    next_id: AtomicU64,
    origin: Instant,
    /// ms since `origin` + 1 at which recent ids were issued (0: none).
    issued_at: Box<[AtomicU64]>,
    receipts: ReceiptQueue,
}

/// One message: its id (as a number and as written in submit_sm_resp) and the start of
/// its text (for the receipt).
struct Issued {
    id: u64,
    written: String,
    text: String,
}

impl SimHandler {
    pub(crate) fn new(config: &SimConfig, receipts: ReceiptQueue) -> Self {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        // 2^20 ids per second of start time: unique across runs started a second apart.
        let first_id = (secs & 0x7FFF_FFFF) << 20;
        Self {
            system_id: config.system_id.clone().map(Bytes::from),
            password: config.password.clone().map(Bytes::from),
            receipt_delay: config.receipt_delay,
            id_format: config.id_format,
            faults: config.faults.clone(),
            accounts: config
                .faults
                .accounts
                .iter()
                .map(|(id, pw)| (Bytes::from(id.clone()), Bytes::from(pw.clone())))
                .collect(),
            systems: Mutex::new(HashMap::new()),
            conns: Mutex::new(HashMap::new()),
            binds_accepted: AtomicU64::new(0),
            registry: OnceLock::new(),
            // Version 4 nibble set; the rest random.
            uuid_high: (fastrand::u64(..) & !0xF000) | 0x4000,
            counters: Arc::new(Counters::default()),
            first_id,
            next_id: AtomicU64::new(first_id),
            origin: Instant::now(),
            issued_at: (0..RECENT_IDS).map(|_| AtomicU64::new(0)).collect(),
            receipts,
        }
    }

    /// The counters.
    #[must_use]
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub(crate) fn counters_arc(&self) -> Arc<Counters> {
        Arc::clone(&self.counters)
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub(crate) fn set_registry(&self, registry: Arc<Registry>) {
        let _ = self.registry.set(registry);
    }

    pub(crate) fn faults(&self) -> &Faults {
        &self.faults
    }

    fn id_string(&self, id: u64, format: IdFormat) -> String {
        let width = self.faults.id_len;
        match format {
            IdFormat::Hex => format!("{id:0width$x}"),
            IdFormat::Dec => format!("{id:0width$}"),
            IdFormat::Uuid => {
                let hi = self.uuid_high;
                format!(
                    "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
                    hi >> 32,
                    (hi >> 16) & 0xFFFF,
                    hi & 0xFFFF,
                    id >> 48,
                    id & 0xFFFF_FFFF_FFFF
                )
            }
        }
    }

    fn parse_id(&self, id: &[u8]) -> Option<u64> {
        let id = std::str::from_utf8(id).ok()?.trim();
        match self.id_format {
            IdFormat::Hex => u64::from_str_radix(id, 16).ok(),
            IdFormat::Dec => id.parse().ok(),
            IdFormat::Uuid => {
                let digits: String = id.chars().filter(|c| *c != '-').collect();
                u64::from_str_radix(digits.get(16..)?, 16).ok()
            }
        }
    }

    /// The ids written in a receipt's text and TLV.
    fn receipt_ids(&self, issued: &Issued) -> (String, String) {
        let id = issued.id;
        match (self.faults.receipt_id_style, self.id_format) {
            (ReceiptIdStyle::Same, _) | (_, IdFormat::Uuid) => {
                (issued.written.clone(), issued.written.clone())
            }
            (ReceiptIdStyle::DecInTextHexInTlv, _) => (
                self.id_string(id, IdFormat::Dec),
                self.id_string(id, IdFormat::Hex),
            ),
            (ReceiptIdStyle::HexInTextDecInTlv, _) => (
                self.id_string(id, IdFormat::Hex),
                self.id_string(id, IdFormat::Dec),
            ),
        }
    }

    fn system(&self, system_id: &Bytes) -> Arc<SystemState> {
        let mut systems = self.systems.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(systems.entry(system_id.clone()).or_insert_with(|| {
            Arc::new(SystemState {
                gcra: self.faults.tps.map(|tps| Gcra::new(tps, self.origin)),
                active: AtomicUsize::new(0),
            })
        }))
    }

    fn conn(&self, connection_id: u64) -> Option<Arc<ConnState>> {
        self.conns
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&connection_id)
            .cloned()
    }

    /// The per-request faults, in order: drop, silence, throttling, injected errors.
    fn gate(&self, session: &SessionInfo) -> Gate {
        let f = &self.faults;
        if f.per_connection() {
            if let Some(conn) = self.conn(session.connection_id) {
                let n = conn.received.fetch_add(1, Ordering::Relaxed) + 1;
                match f.drop_after {
                    Some(limit) if n == limit => return Gate::Drop(conn.handle.clone()),
                    // Pipelined behind the one that closes the connection: never answered.
                    Some(limit) if n > limit => return Gate::Closing,
                    _ => {}
                }
                if f.silent_after.is_some_and(|limit| n > limit) {
                    return Gate::Silent;
                }
                if conn.system.gcra.as_ref().is_some_and(|g| !g.check()) {
                    bump(&self.counters.throttled);
                    return Gate::Fail(f.throttle_status);
                }
            }
        }
        if let Some(status) = faults::draw_error(&f.error_rate) {
            bump(&self.counters.errors_injected);
            return Gate::Fail(status);
        }
        Gate::Pass
    }

    /// Answers through the gate: `accept` runs only when the request passes.
    fn reply<T: Send + 'static>(
        &self,
        session: &SessionInfo,
        accept: impl FnOnce() -> (Result<T, CommandStatus>, Vec<ReceiptJob>),
    ) -> Reply<T> {
        let (result, now) = match self.gate(session) {
            Gate::Pass => accept(),
            Gate::Fail(status) => (Err(status), Vec::new()),
            Gate::Silent => {
                bump(&self.counters.silent);
                return Reply::Silence;
            }
            Gate::Closing => return Reply::Later(Box::pin(futures::future::pending())),
            Gate::Drop(handle) => {
                bump(&self.counters.drops);
                tokio::spawn(async move {
                    handle.link().close().await;
                });
                return Reply::Later(Box::pin(futures::future::pending()));
            }
        };
        let delay = self.faults.resp_delay;
        if now.is_empty() && delay.is_zero() {
            return Reply::Ready(result);
        }
        let registry = self.registry.get().cloned();
        let counters = Arc::clone(&self.counters);
        let bind = self.faults.receipt_bind;
        let queue = self.receipts.clone();
        Reply::Later(Box::pin(async move {
            if let Some(registry) = registry {
                for job in now {
                    receipts::deliver_now(job, &registry, bind, &counters, &queue).await;
                }
            }
            let d = delay.sample();
            if !d.is_zero() {
                tokio::time::sleep(d).await;
            }
            result
        }))
    }

    fn issue(&self) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let slot = usize::try_from(id - self.first_id).unwrap_or(0) % RECENT_IDS;
        self.issued_at[slot].store(self.now_ms() + 1, Ordering::Relaxed);
        id
    }

    /// The receipt for `issued`, due after the receipt delay.
    fn build_receipt(
        &self,
        session: &SessionInfo,
        issued: &Issued,
        submitter: &Address,
        recipient: &Address,
        state: MessageState,
    ) -> ReceiptJob {
        let now = clock::utc_now();
        let (text_id, tlv_id) = self.receipt_ids(issued);
        let mut builder = ReceiptBuilder::new(text_id, state);
        builder.submit_date = Some(now);
        builder.done_date = Some(now);
        builder.err = match state {
            MessageState::Delivered => 0,
            MessageState::Undeliverable => 1,
            MessageState::Rejected => 11,
            _ => 100,
        };
        builder.text.clone_from(&issued.text);
        let format = self.faults.receipt_format;
        let tlvs = if format == ReceiptFormat::Text {
            Tlvs::default()
        } else {
            let mut id = tlv_id.into_bytes();
            id.push(0);
            Tlvs::builder()
                .push_raw(TlvTag::RECEIPTED_MESSAGE_ID, &id)
                .push_raw(TlvTag::MESSAGE_STATE, &[builder.tlv_message_state()])
                .build()
                .unwrap_or_default()
        };
        let short_message = if format == ReceiptFormat::Tlv {
            Bytes::new()
        } else {
            Bytes::from(builder.format_text())
        };
        let deliver_sm = DeliverSm {
            // The receipt goes from the recipient back to the submitter.
            source_addr: recipient.clone(),
            destination_addr: submitter.clone(),
            esm_class: EsmClass(0x04),
            data_coding: DataCoding(0),
            short_message,
            tlvs,
            ..DeliverSm::default()
        };
        let delay = match self.faults.receipt_delay_max {
            Some(max) => faults::DelayRange {
                min: self.receipt_delay,
                max,
            }
            .sample(),
            None => self.receipt_delay,
        };
        ReceiptJob {
            due: Instant::now() + delay,
            connection_id: session.connection_id,
            system_id: session.system_id.clone(),
            deliver_sm,
            retries: 0,
        }
    }

    /// Issues an id for a message and queues its receipts (one per recipient) when asked;
    /// with `--receipt-before-resp` the receipts are returned to send before the response.
    fn accept_message(
        &self,
        session: &SessionInfo,
        registered_delivery: RegisteredDelivery,
        source: &Address,
        recipients: &[&Address],
        text: impl FnOnce() -> String,
    ) -> (Result<MessageId, CommandStatus>, Vec<ReceiptJob>) {
        let before = self.faults.receipt_before_resp;
        // Each recipient's outcome; asked for receipts on failure only (reference §5.2.17),
        // a delivered one gets none.
        let failure_only = registered_delivery.smsc_receipt() == SmscReceipt::OnFailure;
        let outcomes: Vec<(&Address, MessageState)> = if registered_delivery.wants_receipt() {
            recipients
                .iter()
                .map(|recipient| {
                    let state = faults::pick(&self.faults.receipt_states)
                        .unwrap_or(MessageState::Delivered);
                    (*recipient, state)
                })
                .filter(|(_, state)| !(failure_only && *state == MessageState::Delivered))
                .collect()
        } else {
            Vec::new()
        };
        if !outcomes.is_empty() && !before && !self.receipts.reserve(outcomes.len()) {
            bump(&self.counters.receipts_dropped);
            return (Err(CommandStatus::ESME_RMSGQFUL), Vec::new());
        }
        let id = self.issue();
        let issued = Issued {
            id,
            written: self.id_string(id, self.id_format),
            text: if outcomes.is_empty() {
                String::new()
            } else {
                text()
            },
        };
        let mut now = Vec::new();
        for (recipient, state) in outcomes {
            let job = self.build_receipt(session, &issued, source, recipient, state);
            if before {
                now.push(job);
            } else if !self.receipts.push(job) {
                bump(&self.counters.receipts_dropped);
            }
        }
        (Ok(Bytes::from(issued.written)), now)
    }
}

/// The first characters of a message, printable ASCII only (the receipt's `text:`).
fn receipt_text(data_coding: u8, esm_class: EsmClass, user_data: &[u8]) -> String {
    let mut text =
        coding::decode_user_data(data_coding, esm_class.0, user_data, TextConfig::default())
            .unwrap_or_default();
    let mut kept = 0;
    text.retain(|c| {
        let keep = kept < 20 && (c.is_ascii_graphic() || c == ' ');
        kept += usize::from(keep);
        keep
    });
    text
}

/// Whether a message PDU is one segment of a concatenated message.
fn is_segment(esm_class: EsmClass, tlvs: &Tlvs) -> bool {
    esm_class.udhi() || tlvs.contains(TlvTag::SAR_MSG_REF_NUM)
}

impl SmscHandler for SimHandler {
    fn authenticate(&self, request: &BindRequest) -> Result<Bytes, CommandStatus> {
        let refused = |status| {
            bump(&self.counters.bind_failures);
            Err(status)
        };
        if let Some(system_id) = &self.system_id {
            if request.bind.system_id != *system_id {
                return refused(CommandStatus::ESME_RINVSYSID);
            }
        }
        if let Some(password) = &self.password {
            if request.bind.password != *password {
                return refused(CommandStatus::ESME_RINVPASWD);
            }
        }
        let rejected = |status| {
            bump(&self.counters.binds_rejected);
            refused(status)
        };
        if !self.accounts.is_empty() {
            match self.accounts.get(&request.bind.system_id) {
                None => return rejected(CommandStatus::ESME_RINVSYSID),
                Some(password) if *password != request.bind.password => {
                    return rejected(CommandStatus::ESME_RINVPASWD);
                }
                Some(_) => {}
            }
        }
        if let Some(limit) = self.faults.reject_bind_after {
            if self.binds_accepted.load(Ordering::Relaxed) >= limit {
                return rejected(CommandStatus::ESME_RBINDFAIL);
            }
        }
        // The bind is counted here, atomically with the --max-binds check (two binds
        // racing cannot both take the last place); `on_closed` gives it back.
        let max = self.faults.max_binds.unwrap_or(usize::MAX);
        let system = self.system(&request.bind.system_id);
        if system
            .active
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < max).then_some(n + 1)
            })
            .is_err()
        {
            return rejected(self.faults.max_binds_status);
        }
        self.binds_accepted.fetch_add(1, Ordering::Relaxed);
        Ok(Bytes::from_static(b"smppgate-sim"))
    }

    fn on_bound(&self, session: &SessionHandle) {
        bump(&self.counters.binds);
        self.counters
            .sessions_active
            .fetch_add(1, Ordering::Relaxed);
        let info = session.info();
        if self.faults.per_connection() {
            let system = self.system(&info.system_id);
            self.conns
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(
                    info.connection_id,
                    Arc::new(ConnState {
                        handle: session.clone(),
                        system,
                        received: AtomicU64::new(0),
                    }),
                );
        }
        if let Some(rate) = self.faults.disconnect_rate.filter(|r| *r > 0) {
            tokio::spawn(disconnect_later(
                session.clone(),
                rate,
                Arc::clone(&self.counters),
            ));
        }
    }

    fn on_closed(&self, session: Option<&SessionInfo>, reason: CloseReason, stats: &SessionStats) {
        let c = &self.counters;
        if let Some(info) = session {
            c.sessions_active.fetch_sub(1, Ordering::Relaxed);
            self.system(&info.system_id)
                .active
                .fetch_sub(1, Ordering::Relaxed);
            if self.faults.per_connection() {
                self.conns
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&info.connection_id);
            }
        }
        bump(&c.connections_closed);
        match reason {
            CloseReason::PeerUnbound => bump(&c.unbinds),
            CloseReason::FramingLost => bump(&c.frame_errors),
            _ => {}
        }
        add(&c.generic_nack_sent, stats.generic_nacks_sent);
        add(&c.invalid_bind_status, stats.illegal_requests_answered);
        // The session counts every undecodable frame; the sim's `decode_errors` is bad
        // bodies only, so unknown commands and a lost framing are not counted twice.
        let framing_lost = u64::from(matches!(reason, CloseReason::FramingLost));
        add(
            &c.decode_errors,
            stats
                .decode_errors
                .saturating_sub(stats.unknown_commands)
                .saturating_sub(framing_lost),
        );
        add(&c.unknown_command, stats.unknown_commands);
        add(&c.response_timeouts, stats.response_timeouts);
        add(&c.enquire_links, stats.enquire_links_answered);
    }

    fn submit_sm(
        &self,
        session: &SessionInfo,
        _pdu: &Pdu,
        submit_sm: &SubmitSm,
    ) -> Reply<MessageId> {
        bump(&self.counters.submits);
        if is_segment(submit_sm.esm_class, &submit_sm.tlvs) {
            bump(&self.counters.segments);
        }
        self.reply(session, || {
            self.accept_message(
                session,
                submit_sm.registered_delivery,
                &submit_sm.source_addr,
                &[&submit_sm.destination_addr],
                || {
                    receipt_text(
                        submit_sm.data_coding.0,
                        submit_sm.esm_class,
                        &submit_sm.payload(),
                    )
                },
            )
        })
    }

    fn data_sm(&self, session: &SessionInfo, _pdu: &Pdu, data_sm: &DataSm) -> Reply<MessageId> {
        bump(&self.counters.data_sm);
        if is_segment(data_sm.esm_class, &data_sm.tlvs) {
            bump(&self.counters.segments);
        }
        self.reply(session, || {
            self.accept_message(
                session,
                data_sm.registered_delivery,
                &data_sm.source_addr,
                &[&data_sm.destination_addr],
                || {
                    let payload = data_sm.tlvs.message_payload().unwrap_or_default();
                    receipt_text(data_sm.data_coding.0, data_sm.esm_class, &payload)
                },
            )
        })
    }

    fn submit_multi(
        &self,
        session: &SessionInfo,
        _pdu: &Pdu,
        submit_multi: &SubmitMulti,
    ) -> Reply<SubmitMultiResp> {
        bump(&self.counters.submit_multi);
        if is_segment(submit_multi.esm_class, &submit_multi.tlvs) {
            bump(&self.counters.segments);
        }
        let recipients: Vec<&Address> = submit_multi
            .dest_addresses
            .iter()
            .filter_map(|d| match d {
                DestAddress::Sme(address) => Some(address),
                DestAddress::DistributionList(_) => None,
            })
            .collect();
        let payload = submit_multi
            .tlvs
            .message_payload()
            .unwrap_or_else(|| submit_multi.short_message.clone());
        self.reply(session, || {
            let (result, now) = self.accept_message(
                session,
                submit_multi.registered_delivery,
                &submit_multi.source_addr,
                &recipients,
                || receipt_text(submit_multi.data_coding.0, submit_multi.esm_class, &payload),
            );
            let result = result.map(|message_id| SubmitMultiResp {
                message_id,
                ..SubmitMultiResp::default()
            });
            (result, now)
        })
    }

    fn query_sm(&self, _session: &SessionInfo, query_sm: &QuerySm) -> Reply<QuerySmResp> {
        bump(&self.counters.query_sm);
        let next = self.next_id.load(Ordering::Relaxed);
        let Some(id) = self
            .parse_id(&query_sm.message_id)
            .filter(|id| (self.first_id..next).contains(id))
        else {
            return Reply::Ready(Err(CommandStatus::ESME_RQUERYFAIL));
        };
        let recent = next - id <= RECENT_IDS as u64;
        let slot = usize::try_from(id - self.first_id).unwrap_or(0) % RECENT_IDS;
        let issued_at = self.issued_at[slot].load(Ordering::Relaxed);
        let delay = u64::try_from(self.receipt_delay.as_millis()).unwrap_or(u64::MAX);
        let delivered =
            !recent || issued_at == 0 || self.now_ms() + 1 >= issued_at.saturating_add(delay);
        let (state, final_date) = if delivered {
            let date = clock::smpp_absolute(&clock::utc_now());
            (
                MessageState::Delivered,
                SmppTime::from_raw(date).unwrap_or_default(),
            )
        } else {
            (MessageState::Enroute, SmppTime::default())
        };
        Reply::Ready(Ok(QuerySmResp {
            message_id: query_sm.message_id.clone(),
            final_date,
            message_state: state.as_u8(),
            error_code: 0,
        }))
    }
}

/// Closes `session` after a Poisson-distributed wait (`rate`: basis points of one a
/// minute), unless it closes first.
async fn disconnect_later(session: SessionHandle, rate: u32, counters: Arc<Counters>) {
    let per_second = f64::from(rate) / f64::from(faults::BASIS) / 60.0;
    let wait = -(1.0 - fastrand::f64()).ln() / per_second;
    let wait = Duration::from_secs_f64(wait.min(86_400.0));
    tokio::select! {
        _ = session.link().closed() => {}
        () = tokio::time::sleep(wait) => {
            bump(&counters.disconnects);
            session.link().close().await;
        }
    }
}
