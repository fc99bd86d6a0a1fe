//! What comes back from the carriers, applied by one writer task in batches: submission
//! outcomes (part accepted with its carrier id, or failed), receipts (matched by carrier
//! id, whatever bind they came on, in any id style, even before their submit_sm_resp),
//! MO messages (reassembled, routed to the account that owns the number), and validity
//! expiry. Each batch is committed (one fsync) before the carriers' deliver_sm are
//! answered, so a receipt is never acknowledged before it is durable; one writer means no
//! lost updates between a part's outcome and its receipt.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{Body, DeliverSm};
use smppgate_protocol::receipt::{
    DeliveryReceipt, IdStyle, MessageState, ReceiptBuilder, normalise_id,
};
use smppgate_protocol::text::{
    ExpiryPolicy, PushOutcome, ReassembledMessage, Reassembler, ReassemblyConfig, Segment,
    TextConfig,
};
use smppgate_protocol::tlv::{Tlv, TlvTag, Tlvs};
use smppgate_protocol::types::{DataCoding, EsmClass};
use tokio::sync::mpsc;

use super::core::{Core, bump, now_ms, request_of};
use crate::carrier::{Events, Outcome, OutcomeResult};
use crate::config::{self, ReceiptMode};
use crate::conn::InboundRequest;
use crate::numbers::PrefixTable;
use crate::shutdown::ShutdownSignal;
use crate::store::{MessageRecord, Op, OutboxItem, State};

/// One thing for the writer.
#[derive(Debug)]
pub(crate) enum Event {
    /// A message just made durable (sent by the submit path before it dispatches the
    /// parts, so it comes before their outcomes): the writer caches it instead of reading
    /// it back from the store.
    Accepted(Arc<MessageRecord>),
    Outcome(Outcome),
    Inbound(Arc<str>, Box<InboundRequest>),
    Expire(u64),
    /// An early receipt kept in the store by an earlier run (it had not matched when that
    /// run stopped): matched now, or held again.
    Replay {
        carrier: Arc<str>,
        key: String,
        receipt: PartReceipt,
        seq: u64,
    },
}

/// (source, destination, reference) of a multipart MO, as the reassembler keys it.
type PartialKey = (String, String, u16);

/// What an MO's parts share beyond the reassembler's key.
#[derive(Debug, Clone)]
pub(crate) struct PartialMo {
    carrier: Arc<str>,
    data_coding: u8,
    source: smppgate_protocol::types::Address,
    destination: smppgate_protocol::types::Address,
}

fn partial_key(message: &ReassembledMessage) -> PartialKey {
    (
        message.source.clone(),
        message.destination.clone(),
        message.concat.reference,
    )
}

/// Receipts that arrived before their submit_sm_resp, by (carrier, normalised id).
#[derive(Debug, Default)]
pub(crate) struct EarlyReceipts {
    held: std::sync::Mutex<HashMap<CarrierKey, (u64, PartReceipt)>>,
}

/// (carrier, normalised carrier message id).
type CarrierKey = (Arc<str>, String);

/// Most events the writer applies and commits at once. Outcomes waiting here when the
/// process dies are the duplicates a restart can send (with the carrier windows).
pub const WRITER_BATCH: usize = 1024;

/// Most records the writer keeps between batches (messages not final yet, newest kept;
/// an evicted one is read back from the store when its next event comes). About 0.5 KB
/// each for a one-part message (record, request bytes, part, map entry): 16 MB at most.
pub(crate) const RECORD_CACHE: usize = 32_768;

/// Most carrier ids the writer keeps in memory for matching receipts (about 100 B
/// each: 25 MB at most); beyond, the lot is dropped and lookups go to the store.
const RECENT_IDS: usize = 262_144;

/// Most early receipts held at once.
const EARLY_MAX: usize = 100_000;

/// What a receipt says about a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PartReceipt {
    state: State,
    err: u16,
}

impl Events for Core {
    fn outcome(&self, outcome: Outcome) {
        self.send_event(Event::Outcome(outcome));
    }

    fn inbound(
        &self,
        carrier: &Arc<str>,
        request: InboundRequest,
    ) -> futures::future::BoxFuture<'static, ()> {
        // Still the old queue (spawn-on-full): no backpressure yet.
        self.send_event(Event::Inbound(Arc::clone(carrier), Box::new(request)));
        Box::pin(async {})
    }
}

/// [`Events`] for the pool without owning the core.
pub(crate) struct WeakEvents(pub(crate) std::sync::Weak<Core>);

impl Events for WeakEvents {
    fn outcome(&self, outcome: Outcome) {
        if let Some(core) = self.0.upgrade() {
            core.outcome(outcome);
        }
    }

    fn inbound(
        &self,
        carrier: &Arc<str>,
        request: InboundRequest,
    ) -> futures::future::BoxFuture<'static, ()> {
        if let Some(core) = self.0.upgrade() {
            return core.inbound(carrier, request);
        }
        Box::pin(async {})
    }
}

impl Core {
    pub(crate) fn send_event(&self, event: Event) {
        match self.events.try_send(event) {
            Err(mpsc::error::TrySendError::Full(event)) => {
                // Bounded: the writer is behind; the carrier side waits on this task
                // (its windows then hold further traffic back).
                let events = self.events.clone();
                tokio::spawn(async move {
                    let _ = events.send(event).await;
                });
            }
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    /// A part's outcome recorded without going through the writer's queue (refused at
    /// intake by the pool).
    pub(crate) fn part_outcome(
        &self,
        id: u64,
        part: u16,
        carrier: Option<Arc<str>>,
        result: Result<Bytes, CommandStatus>,
        attempts: u32,
    ) {
        let result = match result {
            Ok(message_id) => OutcomeResult::Accepted { message_id },
            Err(status) => OutcomeResult::Failed {
                status,
                reason: crate::carrier::FailReason::Permanent,
            },
        };
        self.send_event(Event::Outcome(Outcome {
            id,
            part,
            carrier: carrier.unwrap_or_else(|| Arc::from("")),
            result,
            attempts,
            failovers: 0,
        }));
    }
}

/// The store state of a receipt's message_state.
const fn state_of(state: MessageState) -> Option<State> {
    Some(match state {
        MessageState::Delivered => State::Delivered,
        MessageState::Expired => State::Expired,
        MessageState::Undeliverable => State::Failed,
        MessageState::Rejected => State::Rejected,
        MessageState::Deleted | MessageState::Unknown => State::Unknown,
        MessageState::Enroute | MessageState::Accepted => return None,
    })
}

/// The receipt state of a final store state.
const fn receipt_state(state: State) -> MessageState {
    match state {
        State::Delivered => MessageState::Delivered,
        State::Expired => MessageState::Expired,
        State::Failed => MessageState::Undeliverable,
        State::Rejected => MessageState::Rejected,
        State::Unknown | State::Accepted | State::Sent => MessageState::Unknown,
    }
}

/// Worse states win when parts differ.
const fn severity(state: State) -> u8 {
    match state {
        State::Accepted | State::Sent => 0,
        State::Delivered => 1,
        State::Unknown => 2,
        State::Expired => 3,
        State::Failed => 4,
        State::Rejected => 5,
    }
}

fn style_of(style: config::IdStyle) -> IdStyle {
    match style {
        config::IdStyle::Hex => IdStyle::Hex,
        config::IdStyle::Dec => IdStyle::Dec,
        config::IdStyle::Auto => IdStyle::Auto,
    }
}

/// The writer: the state of every message changes here only.
pub(crate) struct Writer {
    core: Arc<Core>,
    /// The current record of messages not final (authoritative: only this task changes
    /// them), at most [`RECORD_CACHE`] between batches, oldest ids evicted first.
    records: BTreeMap<u64, Arc<MessageRecord>>,
    /// Records changed by this batch: each is written once, whole, at its end.
    dirty: Vec<u64>,
    /// Carrier-id index entries written recently (bounded by [`RECENT_IDS`]).
    index: HashMap<(Arc<str>, String), (u64, u16)>,
    ops: Vec<Op>,
    answers: Vec<InboundRequest>,
    reassembler: Reassembler,
    /// What an open multipart MO's parts share beyond the reassembler's key (bounded by
    /// its open messages): carrier, data_coding and the addresses as received.
    partial: HashMap<PartialKey, PartialMo>,
    carrier_styles: HashMap<Arc<str>, IdStyle>,
    numbers: PrefixTable<String>,
}

impl Writer {
    fn new(core: Arc<Core>) -> Self {
        let mo_ttl_ms =
            u64::try_from(core.config().receipts.mo_reassembly_ttl.as_millis()).unwrap_or(u64::MAX);
        let carrier_styles = core
            .config()
            .carriers
            .iter()
            .map(|c| (Arc::from(c.name.as_str()), style_of(c.message_id_style)))
            .collect();
        let mut numbers = PrefixTable::new();
        for account in &core.config().accounts {
            for number in &account.numbers {
                // Not digits: refused by validation, skipped here.
                let _ = numbers.insert(number, account.system_id.clone());
            }
        }
        Self {
            core,
            records: BTreeMap::new(),
            dirty: Vec::new(),
            index: HashMap::new(),
            ops: Vec::new(),
            answers: Vec::new(),
            // An MO whose parts do not all come within the TTL goes to its account
            // incomplete rather than nowhere.
            reassembler: Reassembler::new(ReassemblyConfig {
                on_expiry: ExpiryPolicy::DeliverIncomplete,
                ttl_ms: mo_ttl_ms,
                ..ReassemblyConfig::default()
            }),
            partial: HashMap::new(),
            carrier_styles,
            numbers,
        }
    }

    /// The record of `id` to change (marked to be written at the end of the batch).
    fn record(&mut self, id: u64) -> Option<&mut MessageRecord> {
        if !self.records.contains_key(&id) {
            let record = self.core.store.get(id).ok().flatten()?;
            self.records.insert(id, Arc::new(record));
        }
        self.dirty.push(id);
        // The Put of the last batch is committed and dropped by now: no copy is made.
        self.records.get_mut(&id).map(Arc::make_mut)
    }

    fn style(&self, carrier: &str) -> IdStyle {
        self.carrier_styles
            .get(carrier)
            .copied()
            .unwrap_or(IdStyle::Auto)
    }

    fn apply(&mut self, event: Event) {
        match event {
            Event::Accepted(record) => {
                // Never replaces a record this task already holds (it would be older).
                self.records.entry(record.id).or_insert(record);
            }
            Event::Outcome(outcome) => self.outcome(outcome),
            Event::Inbound(carrier, request) => self.inbound(&carrier, *request),
            Event::Expire(id) => self.expire(id),
            Event::Replay {
                carrier,
                key,
                receipt,
                seq,
            } => self.replay(&carrier, key, receipt, seq),
        }
    }

    fn outcome(&mut self, outcome: Outcome) {
        let now = now_ms();
        let style = self.style(&outcome.carrier);
        let core = Arc::clone(&self.core);
        let Some(record) = self.record(outcome.id) else {
            tracing::warn!(id = outcome.id, "outcome for a message not in the store");
            return;
        };
        let Some(part) = record.parts.get_mut(usize::from(outcome.part)) else {
            return;
        };
        part.attempts = outcome.attempts;
        part.carrier = Some(outcome.carrier.to_string());
        part.updated = now;
        let mut early = None;
        let mut keys = Vec::new();
        match &outcome.result {
            OutcomeResult::Accepted { message_id } => {
                bump(&core.stats.parts_sent);
                let text = String::from_utf8_lossy(message_id);
                let text = text.trim_end_matches('\0');
                let candidates = normalise_id(text, style);
                part.carrier_id = Some(text.to_owned());
                if !part.state.is_final() {
                    part.state = State::Sent;
                }
                part.status = 0;
                for candidate in candidates.iter() {
                    keys.push(candidate.as_str().to_owned());
                }
            }
            OutcomeResult::Failed { status, .. } => {
                bump(&core.stats.parts_failed);
                part.state = State::Failed;
                part.status = status.0;
            }
        }
        for key in keys {
            self.ops.push(Op::CarrierId {
                carrier: outcome.carrier.to_string(),
                carrier_id: key.clone(),
                id: outcome.id,
                part: outcome.part,
            });
            let index_key = (Arc::clone(&outcome.carrier), key);
            if early.is_none() {
                early = self.core.receipts.take(&index_key);
            }
            self.index.insert(index_key, (outcome.id, outcome.part));
        }
        if let Some(receipt) = early {
            bump(&self.core.stats.receipts_matched);
            self.apply_receipt(outcome.id, outcome.part, receipt);
        } else {
            self.settle(outcome.id);
        }
    }

    fn inbound(&mut self, carrier: &Arc<str>, request: InboundRequest) {
        match DeliveryReceipt::from_body(&request.pdu.body) {
            Some(receipt) => self.receipt(carrier, &receipt),
            None => self.mo(carrier, &request.pdu.body),
        }
        self.answers.push(request);
    }

    fn lookup(&self, carrier: &Arc<str>, key: &str) -> Option<(u64, u16)> {
        let index_key = (Arc::clone(carrier), key.to_owned());
        self.index
            .get(&index_key)
            .copied()
            .or_else(|| self.core.store.by_carrier_id(carrier, key).ok().flatten())
    }

    fn receipt(&mut self, carrier: &Arc<str>, receipt: &DeliveryReceipt) {
        let style = self.style(carrier);
        let Some(candidates) = receipt.id_candidates(style, style) else {
            tracing::warn!(%carrier, "receipt without a message id");
            bump(&self.core.stats.receipts_unmatched);
            return;
        };
        let Some(state) = receipt.state().and_then(state_of) else {
            // ENROUTE / ACCEPTD: intermediate, nothing to record.
            return;
        };
        let part_receipt = PartReceipt {
            state,
            err: u16::try_from(receipt.text.err_code().unwrap_or(0)).unwrap_or(u16::MAX),
        };
        // Also try the text id in the other base: carriers write decimal in the text and
        // hex in the TLV (or the reverse).
        let mut keys: Vec<String> = candidates.iter().map(|c| c.as_str().to_owned()).collect();
        if let Some(text_id) = &receipt.text.id {
            for c in normalise_id(text_id, IdStyle::Auto).iter() {
                keys.push(c.as_str().to_owned());
            }
        }
        for (index, key) in keys.iter().enumerate() {
            if let Some((id, part)) = self.lookup(carrier, key) {
                bump(&self.core.stats.receipts_matched);
                // Which reading matched: the id as the carrier's style reads it first, or
                // another (the other base, or the text id when the TLV's did not match).
                let reading = if index == 0 { "primary" } else { "alternate" };
                metrics::counter!("smppgate_receipts_matched_total", "carrier" => carrier.to_string(), "reading" => reading)
                    .increment(1);
                if index > 0 {
                    bump(&self.core.stats.receipts_matched_alternate);
                }
                self.apply_receipt(id, part, part_receipt);
                return;
            }
        }
        bump(&self.core.stats.receipts_early);
        self.hold_early(
            carrier,
            candidates.primary.as_str().to_owned(),
            part_receipt,
        );
    }

    /// Holds a receipt that matched nothing yet, in memory for matching and in the store
    /// (committed before the carrier's deliver_sm is answered) so a crash does not lose it.
    fn hold_early(&mut self, carrier: &Arc<str>, key: String, receipt: PartReceipt) {
        let ttl_ms =
            u64::try_from(self.core.config().receipts.early_ttl.as_millis()).unwrap_or(u64::MAX);
        if let Some(item) = kept_receipt(EARLY, carrier, &key, receipt) {
            self.ops.push(Op::OutboxPush(item));
        }
        self.core
            .receipts
            .hold((Arc::clone(carrier), key), receipt, ttl_ms);
    }

    fn replay(&mut self, carrier: &Arc<str>, key: String, receipt: PartReceipt, seq: u64) {
        self.ops.push(Op::OutboxAck {
            account: EARLY.to_owned(),
            seq,
        });
        if let Some((id, part)) = self.lookup(carrier, &key) {
            bump(&self.core.stats.receipts_matched);
            self.apply_receipt(id, part, receipt);
        } else {
            self.hold_early(carrier, key, receipt);
        }
    }

    fn apply_receipt(&mut self, id: u64, part: u16, receipt: PartReceipt) {
        let Some(record) = self.record(id) else {
            return;
        };
        let Some(slot) = record.parts.get_mut(usize::from(part)) else {
            return;
        };
        if slot.state.is_final() && slot.state != State::Failed {
            return; // a duplicate receipt
        }
        slot.state = receipt.state;
        slot.error = Some(format!("{:03}", receipt.err));
        slot.updated = now_ms();
        self.part_final(id, part);
        self.settle(id);
    }

    /// A part became final: per-part receipt modes send one now.
    fn part_final(&mut self, id: u64, part: u16) {
        let Some(record) = self.records.get(&id) else {
            return;
        };
        let Some(account) = self.core.accounts.get(record.account.as_bytes()) else {
            return;
        };
        let finals = record.parts.iter().filter(|p| p.state.is_final()).count();
        let send = match account.config.receipts {
            ReceiptMode::PerPart => true,
            ReceiptMode::FirstFinal => finals == 1,
            ReceiptMode::PerMessage | ReceiptMode::LastFinal => false,
        };
        if send && record.wants_receipt {
            let state = record.parts[usize::from(part)].state;
            let err = record.parts[usize::from(part)].error.clone();
            let item = upstream_receipt(record, account.config.id_style, state, err.as_deref());
            if let Some(item) = item {
                self.ops.push(Op::OutboxPush(item));
            }
        }
    }

    /// Recomputes a message's overall state; when every part is final, it is final
    /// (worst part wins) and its receipt is queued.
    fn settle(&mut self, id: u64) {
        let Some(record) = self.records.get_mut(&id) else {
            return;
        };
        if record.state.is_final() {
            return;
        }
        let record = Arc::make_mut(record);
        let all_final = record.parts.iter().all(|p| p.state.is_final());
        let new_state = if all_final {
            let last = record
                .parts
                .iter()
                .max_by_key(|p| p.updated)
                .map(|p| p.state);
            let worst = record
                .parts
                .iter()
                .map(|p| p.state)
                .max_by_key(|s| severity(*s))
                .unwrap_or(State::Unknown);
            let Some(account) = self.core.accounts.get(record.account.as_bytes()) else {
                return;
            };
            let state = match account.config.receipts {
                ReceiptMode::LastFinal => last.unwrap_or(worst),
                _ => worst,
            };
            if record.wants_receipt
                && matches!(
                    account.config.receipts,
                    ReceiptMode::PerMessage | ReceiptMode::LastFinal
                )
            {
                let err = record
                    .parts
                    .iter()
                    .find(|p| p.state == worst)
                    .and_then(|p| p.error.clone());
                if let Some(item) =
                    upstream_receipt(record, account.config.id_style, state, err.as_deref())
                {
                    self.ops.push(Op::OutboxPush(item));
                }
            }
            state
        } else if record.parts.iter().all(|p| p.state != State::Accepted) {
            State::Sent
        } else {
            return;
        };
        if new_state != record.state {
            record.state = new_state;
            self.dirty.push(id);
        }
    }

    fn expire(&mut self, id: u64) {
        let Some(record) = self.record(id) else {
            return;
        };
        if record.state.is_final() {
            return;
        }
        let now = now_ms();
        for part in &mut record.parts {
            if !part.state.is_final() {
                part.state = State::Expired;
                part.updated = now;
            }
        }
        let wants = record.wants_receipt;
        let expired_receipts = self
            .records
            .get(&id)
            .and_then(|r| self.core.accounts.get(r.account.as_bytes()))
            .is_some_and(|a| a.config.expired_receipts);
        if let Some(record) = self.records.get_mut(&id) {
            // Without EXPIRED receipts the message goes final silently.
            if !(wants && expired_receipts) {
                Arc::make_mut(record).wants_receipt = false;
            }
        }
        self.settle(id);
    }

    fn mo(&mut self, carrier: &Arc<str>, body: &Body) {
        let Body::DeliverSm(deliver_sm) = body else {
            return;
        };
        bump(&self.core.stats.mo_received);
        let source = String::from_utf8_lossy(&deliver_sm.source_addr.addr).into_owned();
        let destination = String::from_utf8_lossy(&deliver_sm.destination_addr.addr).into_owned();
        let data = deliver_sm.payload();
        let segment = if deliver_sm.esm_class.udhi() {
            Segment::from_udh(&source, &destination, &data)
                .ok()
                .flatten()
        } else {
            deliver_sm.tlvs.sar().map(|sar| {
                Segment::from_sar(
                    &source,
                    &destination,
                    sar.msg_ref_num,
                    sar.total_segments,
                    sar.segment_seqnum,
                    &data,
                )
            })
        };
        let payload = match segment {
            Some(segment) => match self.reassembler.push(&segment, now_ms()) {
                Ok(PushOutcome::Complete(message)) => {
                    self.partial.remove(&partial_key(&message));
                    message.concatenated()
                }
                Ok(PushOutcome::Stored { .. }) => {
                    let key = (
                        source.clone(),
                        destination.clone(),
                        segment.concat.reference,
                    );
                    self.partial.entry(key).or_insert_with(|| PartialMo {
                        carrier: Arc::clone(carrier),
                        data_coding: deliver_sm.data_coding.0,
                        source: deliver_sm.source_addr.clone(),
                        destination: deliver_sm.destination_addr.clone(),
                    });
                    return;
                }
                Ok(PushOutcome::Duplicate) => return,
                Err(error) => {
                    tracing::warn!(%carrier, %error, "MO segment not reassembled: delivered alone");
                    segment.payload.to_vec()
                }
            },
            None => data.to_vec(),
        };
        let partial = PartialMo {
            carrier: Arc::clone(carrier),
            data_coding: deliver_sm.data_coding.0,
            source: deliver_sm.source_addr.clone(),
            destination: deliver_sm.destination_addr.clone(),
        };
        self.forward_mo(&partial, payload);
    }

    /// Multipart MOs past the reassembly TTL go to their account with what arrived.
    fn expire_partial(&mut self, now: u64) {
        for message in self.reassembler.expire(now) {
            let Some(partial) = self.partial.remove(&partial_key(&message)) else {
                continue;
            };
            tracing::warn!(
                carrier = %partial.carrier,
                missing = ?message.missing,
                "MO parts missing after the reassembly TTL: delivered incomplete"
            );
            self.forward_mo(&partial, message.concatenated());
        }
    }

    /// Routes an MO (whole) to the account owning its number, through its outbox.
    fn forward_mo(&mut self, mo: &PartialMo, payload: Vec<u8>) {
        let text =
            smppgate_protocol::text::decode(mo.data_coding, &payload, 0, TextConfig::default());
        let opt_out = is_opt_out(&text);
        if opt_out {
            bump(&self.core.stats.mo_opt_out);
        }
        let destination = String::from_utf8_lossy(&mo.destination.addr);
        let number = crate::numbers::normalise(&destination, "").ok();
        // The longest configured number that starts the destination (an exact number, or
        // a long number's extension) owns it.
        let account = self
            .numbers
            .lookup(&destination)
            .or_else(|| number.as_deref().and_then(|n| self.numbers.lookup(n)))
            .cloned()
            .unwrap_or_else(|| {
                // Kept in the store for inspection (`smppgate receipts unmatched --mo`),
                // never dropped.
                tracing::warn!(carrier = %mo.carrier, %destination, "MO for a number no account owns: kept as unrouted");
                bump(&self.core.stats.mo_unrouted);
                UNROUTED_MO.to_owned()
            });
        tracing::info!(carrier = %mo.carrier, source = %String::from_utf8_lossy(&mo.source.addr), %destination, %account, opt_out, "MO");
        let mut out = DeliverSm {
            source_addr: mo.source.clone(),
            destination_addr: mo.destination.clone(),
            data_coding: DataCoding(mo.data_coding),
            ..DeliverSm::default()
        };
        if payload.len() <= 254 {
            out.short_message = Bytes::from(payload);
        } else {
            out.tlvs = Tlvs::builder()
                .push(Tlv::MessagePayload(Bytes::from(payload)))
                .build()
                .unwrap_or_default();
        }
        if let Some(item) = outbox_item(&account, &out) {
            self.ops.push(Op::OutboxPush(item));
        }
    }

    /// Commits the batch, then answers the carriers' deliver_sm.
    async fn finish(&mut self) {
        // One blind write of each changed record (no read-modify-write in the store).
        self.dirty.sort_unstable();
        self.dirty.dedup();
        for id in &self.dirty {
            if let Some(record) = self.records.get(id) {
                self.ops.push(Op::Put(Arc::clone(record)));
            }
        }
        let ops = std::mem::take(&mut self.ops);
        let pushed = ops.iter().any(|op| matches!(op, Op::OutboxPush(_)));
        let status = if ops.is_empty() {
            CommandStatus::ESME_ROK
        } else {
            let mut delay = Duration::from_millis(50);
            let mut result = self.core.group.commit(ops.clone()).await;
            for _ in 0..5 {
                if result.is_ok() {
                    break;
                }
                tokio::time::sleep(delay).await;
                delay *= 2;
                result = self.core.group.commit(ops.clone()).await;
            }
            match result {
                Ok(()) => CommandStatus::ESME_ROK,
                Err(error) => {
                    bump(&self.core.stats.store_errors);
                    tracing::error!(%error, "store failed: receipts answered ESME_RX_T_APPN (the carrier retries)");
                    CommandStatus::ESME_RX_T_APPN
                }
            }
        };
        for request in self.answers.drain(..) {
            if request.needs_response() {
                request.respond(status, None).await;
            }
        }
        // Final records are done with (a late duplicate receipt reads the store); the
        // rest stay cached up to the bound, oldest evicted first.
        for id in self.dirty.drain(..) {
            if self.records.get(&id).is_some_and(|r| r.state.is_final()) {
                self.records.remove(&id);
            }
        }
        while self.records.len() > RECORD_CACHE {
            self.records.pop_first();
        }
        // Recent carrier ids stay in memory so most receipts (seconds after their submit)
        // match without a store read; bounded by dropping the lot past RECENT_IDS (the
        // store has every entry).
        if self.index.len() > RECENT_IDS {
            self.index.clear();
        }
        if pushed {
            self.core.outbox_wake.notify_waiters();
            self.core.outbox_wake.notify_one();
        }
    }
}

/// An upstream receipt for `record` in the account's id style.
fn upstream_receipt(
    record: &MessageRecord,
    id_style: config::IdStyle,
    state: State,
    err: Option<&str>,
) -> Option<OutboxItem> {
    let request = request_of(record)?;
    let id = Core::format_id(record.id, id_style);
    let receipt_state = receipt_state(state);
    let mut builder = ReceiptBuilder::new(id.clone(), receipt_state);
    let now = crate::sim::utc_now();
    builder.submit_date = Some(now);
    builder.done_date = Some(now);
    builder.sub = 1;
    builder.dlvrd = u16::from(state == State::Delivered);
    builder.err = err.and_then(|e| e.parse().ok()).unwrap_or(0);
    let text = super::pipeline::user_data(&request);
    builder.text = String::from_utf8_lossy(&text[..text.len().min(20)]).into_owned();
    let mut tlv_id = id.into_bytes();
    tlv_id.push(0);
    let deliver_sm = DeliverSm {
        source_addr: request.destination_addr.clone(),
        destination_addr: request.source_addr.clone(),
        esm_class: EsmClass(0x04),
        short_message: Bytes::from(builder.format_text()),
        tlvs: Tlvs::builder()
            .push_raw(TlvTag::RECEIPTED_MESSAGE_ID, &tlv_id)
            .push_raw(TlvTag::MESSAGE_STATE, &[receipt_state.as_u8()])
            .build()
            .unwrap_or_default(),
        ..DeliverSm::default()
    };
    outbox_item(&record.account, &deliver_sm)
}

fn outbox_item(account: &str, deliver_sm: &DeliverSm) -> Option<OutboxItem> {
    let pdu = smppgate_protocol::pdu::Pdu::new(1, Body::DeliverSm(deliver_sm.clone()));
    let bytes = smppgate_protocol::codec::encode_to_bytes(&pdu).ok()?;
    Some(OutboxItem {
        seq: 0,
        account: account.to_owned(),
        deliver_sm: bytes.to_vec(),
        queued: now_ms(),
        attempts: 0,
    })
}

/// The pseudo-account whose outbox keeps unmatched receipts for inspection
/// (`smppgate receipt unmatched`); no session ever binds as it.
pub const UNMATCHED: &str = "~unmatched";

/// The pseudo-account whose outbox keeps MO messages for numbers no account owns
/// (`smppgate receipts unmatched --mo` lists them); no session ever binds as it.
pub const UNROUTED_MO: &str = "~unrouted-mo";

/// An unmatched receipt as kept: source_addr the carrier, the text its id/stat/err.
fn unmatched_item(carrier: &str, id: &str, receipt: PartReceipt) -> Option<OutboxItem> {
    kept_receipt(UNMATCHED, carrier, id, receipt)
}

/// The pseudo-account whose outbox keeps early receipts (not matched yet) across a
/// restart; items leave it when replayed at start or after the TTL.
pub(crate) const EARLY: &str = "~early";

/// A receipt kept in a pseudo-account's outbox: source_addr the carrier, the text its
/// normalised id, stat and err.
fn kept_receipt(
    account: &str,
    carrier: &str,
    id: &str,
    receipt: PartReceipt,
) -> Option<OutboxItem> {
    let deliver_sm = DeliverSm {
        source_addr: smppgate_protocol::types::Address::international(carrier.to_owned()),
        esm_class: EsmClass(0x04),
        short_message: Bytes::from(format!(
            "id:{id} stat:{} err:{:03}",
            receipt_state(receipt.state).stat(),
            receipt.err
        )),
        ..DeliverSm::default()
    };
    outbox_item(account, &deliver_sm)
}

/// The early receipts an earlier run kept, to replay through the writer at start.
pub(crate) fn kept_early(core: &Core) -> Vec<Event> {
    let items = core.store.outbox(EARLY, EARLY_MAX).unwrap_or_default();
    items
        .into_iter()
        .filter_map(|item| {
            let pdu = smppgate_protocol::codec::decode(Bytes::from(item.deliver_sm)).ok()?;
            let Body::DeliverSm(deliver_sm) = pdu.body else {
                return None;
            };
            let text = smppgate_protocol::receipt::ReceiptText::parse(&deliver_sm.short_message);
            let state = text.state().and_then(state_of)?;
            Some(Event::Replay {
                carrier: Arc::from(String::from_utf8_lossy(&deliver_sm.source_addr.addr).as_ref()),
                key: text.id.clone()?,
                receipt: PartReceipt {
                    state,
                    err: u16::try_from(text.err_code().unwrap_or(0)).unwrap_or(u16::MAX),
                },
                seq: item.seq,
            })
        })
        .collect()
}

/// Whether an MO text is an opt-out reply: `TD`, `T`, `N`, `R`, `退订`, `STOP`,
/// `UNSUBSCRIBE`, in any case and width, alone apart from spaces and punctuation.
#[must_use]
pub fn is_opt_out(text: &str) -> bool {
    let folded: String = text
        .chars()
        .map(|c| match c {
            // Full-width ASCII (U+FF01..U+FF5E) to ASCII.
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect::<String>()
        .to_uppercase();
    let word = folded.trim_matches(|c: char| {
        c.is_whitespace() || c.is_ascii_punctuation() || "，。！？、；：“”‘’（）【】".contains(c)
    });
    matches!(
        word,
        "TD" | "T" | "N" | "R" | "退订" | "STOP" | "UNSUBSCRIBE"
    )
}

impl EarlyReceipts {
    fn hold(&self, key: (Arc<str>, String), receipt: PartReceipt, ttl_ms: u64) {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if held.len() >= EARLY_MAX {
            tracing::warn!("early-receipt buffer full: oldest dropped to unmatched");
            let now = now_ms();
            held.retain(|_, (deadline, _)| *deadline > now);
            if held.len() >= EARLY_MAX {
                return;
            }
        }
        held.insert(key, (now_ms() + ttl_ms, receipt));
    }

    fn take(&self, key: &(Arc<str>, String)) -> Option<PartReceipt> {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        held.remove(key).map(|(_, r)| r)
    }

    /// Takes the receipts past their TTL (they are unmatched).
    fn expire(&self, now: u64) -> Vec<(CarrierKey, PartReceipt)> {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let expired: Vec<CarrierKey> = held
            .iter()
            .filter(|(_, (deadline, _))| *deadline <= now)
            .map(|(key, _)| key.clone())
            .collect();
        expired
            .into_iter()
            .filter_map(|key| {
                let (_, receipt) = held.remove(&key)?;
                tracing::warn!(carrier = %key.0, carrier_id = %key.1, "receipt matched no message");
                Some((key, receipt))
            })
            .collect()
    }
}

/// The writer task.
pub(crate) async fn run_writer(core: Arc<Core>, mut events: mpsc::Receiver<Event>) {
    let mut writer = Writer::new(Arc::clone(&core));
    let mut batch = Vec::with_capacity(1024);
    loop {
        // Wake for the next multipart MO to expire even when no event comes.
        let next_expiry = writer.reassembler.next_expiry_ms().map(|at| {
            tokio::time::Instant::now() + Duration::from_millis(at.saturating_sub(now_ms()))
        });
        let received = tokio::select! {
            n = events.recv_many(&mut batch, WRITER_BATCH) => n,
            () = sleep_until(next_expiry) => 0,
        };
        if received == 0 && events.is_closed() && events.is_empty() {
            return;
        }
        writer.expire_partial(now_ms());
        for event in batch.drain(..) {
            writer.apply(event);
        }
        writer.finish().await;
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Periodic work: unmatched early receipts, validity expiry, retention.
pub(crate) async fn run_housekeeping(core: Arc<Core>, mut shutdown: ShutdownSignal) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last_scan = 0u64;
    loop {
        tokio::select! {
            () = shutdown.wait() => return,
            _ = tick.tick() => {}
        }
        let now = now_ms();
        let unmatched = core.receipts.expire(now);
        core.stats
            .receipts_unmatched
            .fetch_add(unmatched.len() as u64, Ordering::Relaxed);
        let kept: Vec<Op> = unmatched
            .into_iter()
            .filter_map(|((carrier, id), receipt)| unmatched_item(&carrier, &id, receipt))
            .map(Op::OutboxPush)
            .collect();
        if !kept.is_empty() {
            core.update(kept);
        }
        // Early receipts kept in the store are done with after the TTL (matched, or moved
        // to the unmatched ones above).
        let ttl = u64::try_from(core.config().receipts.early_ttl.as_millis()).unwrap_or(u64::MAX);
        let store = Arc::clone(&core.store);
        if let Ok(Ok(items)) =
            tokio::task::spawn_blocking(move || store.outbox(EARLY, EARLY_MAX)).await
        {
            let done: Vec<Op> = items
                .into_iter()
                .filter(|item| now.saturating_sub(item.queued) > ttl)
                .map(|item| Op::OutboxAck {
                    account: EARLY.to_owned(),
                    seq: item.seq,
                })
                .collect();
            if !done.is_empty() {
                core.update(done);
            }
        }
        let store_config = &core.config().store;
        let validity = u64::try_from(store_config.validity.as_millis()).unwrap_or(u64::MAX);
        // Scan for expiry every minute, or more often when validity is short.
        if now.saturating_sub(last_scan) >= (validity / 4).clamp(1_000, 60_000) {
            last_scan = now;
            let retention = u64::try_from(store_config.retention.as_millis()).unwrap_or(u64::MAX);
            let store = Arc::clone(&core.store);
            let scan = tokio::task::spawn_blocking(move || {
                let expired: Vec<u64> = store
                    .pending()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|r| now.saturating_sub(r.accepted) > validity)
                    .map(|r| r.id)
                    .collect();
                let removed = store.expire(now.saturating_sub(retention)).unwrap_or(0);
                (expired, removed)
            })
            .await;
            if let Ok((expired, removed)) = scan {
                for id in expired {
                    core.send_event(Event::Expire(id));
                }
                if removed > 0 {
                    tracing::info!(removed, "retention: final messages removed");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opt_out_words_in_any_case_width_and_punctuation() {
        for text in [
            "TD",
            "td",
            " t ",
            "Stop!",
            "ＳＴＯＰ",
            "退订",
            "【退订】",
            "unsubscribe.",
            "N",
            "r",
        ] {
            assert!(is_opt_out(text), "{text}");
        }
        for text in ["STOPS", "please stop sending", "退订了吗", "TDX", "hello"] {
            assert!(!is_opt_out(text), "{text}");
        }
    }
}
