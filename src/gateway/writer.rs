//! The receipt writer: what comes back from the carriers, applied by one task in batches:
//! submission outcomes (part accepted with its carrier id, or failed), receipts (matched
//! by carrier id, whatever bind they came on, in any id style, even before their
//! submit_sm_resp), MO messages (reassembled, routed to the account that owns the
//! number), and validity expiry. Each batch is committed (one fsync) before the carriers'
//! deliver_sm are answered, so a receipt is never acknowledged before it is durable; one
//! writer means no lost updates between a part's outcome and its receipt.
//!
//! Its inputs are two bounded queues: outcomes (never full: see [`super::backlog`]) and
//! everything else (a carrier's deliver_sm waits for room there, so the carrier's window
//! holds further ones back). The records and carrier ids a batch needs are read from the
//! store off the runtime threads before the batch is applied. It ends when both queues'
//! senders are gone, or when told to finish: it then applies what is queued and returns.

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
use smppgate_protocol::types::{DataCoding, EsmClass, SmscReceipt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::accounts::Accounts;
use super::backlog::{Backlog, InPool, PartKey};
use super::dispatcher::request_of;
use super::ids::format_id;
use super::stats::{Stats, bump, store_error};
use crate::carrier::{Events, FailReason, Outcome, OutcomeResult};
use crate::clock::Clock;
use crate::config::{self, Config, ReceiptMode};
use crate::conn::InboundRequest;
use crate::numbers::PrefixTable;
use crate::policy::suppression::{MoReply, OptOutReplies};
use crate::store::{GroupCommit, MessageRecord, Op, OutboxItem, State, Store};

/// What a review decision comes to: the record as committed, or why not.
pub(crate) type ReviewResult = Result<Arc<MessageRecord>, String>;
/// Where a review decision is answered.
pub(crate) type ReviewAnswer = tokio::sync::oneshot::Sender<ReviewResult>;
/// Where the end of a client-segmented message judged whole is answered, once committed:
/// the records released (for the dispatcher); none when the commit failed.
pub(crate) type AssembledAnswer = tokio::sync::oneshot::Sender<Vec<Arc<MessageRecord>>>;

/// One thing for the writer.
#[derive(Debug)]
pub(crate) enum Event {
    /// A message just made durable (sent by the submit path before it dispatches the
    /// parts, so it comes before their outcomes): the writer caches it instead of reading
    /// it back from the store.
    Accepted(Arc<MessageRecord>),
    Inbound(Arc<str>, Box<InboundRequest>),
    Expire(u64),
    /// A stored message whose parts intake already made final (a policy refusal answered
    /// by receipt): its state and receipt follow from them.
    Settle(u64),
    /// An operator's decision on a held message (`smppgate review`, through the control
    /// socket): answered once committed, with the record as it then is.
    Review {
        id: u64,
        action: super::review::Action,
        done: ReviewAnswer,
    },
    /// The parts of a client-segmented message judged whole (`gateway/assembly.rs`):
    /// those still awaiting it are released, refused (REJECTD receipts) or held for
    /// review together; answered once committed.
    Assembled {
        ids: Vec<u64>,
        whole: super::policy::Whole,
        done: AssembledAnswer,
    },
    /// Writes of another stage that need no answer (housekeeping), in order with the
    /// writer's own.
    Ops(Vec<Op>),
    /// An early receipt kept in the store by an earlier run, or by a dead node this one
    /// took over (it had not matched when that one stopped): matched now, or held again
    /// (kept under this node's own early account). `account` is the pseudo-account it was
    /// kept under.
    Replay {
        account: Arc<str>,
        carrier: Arc<str>,
        /// The id as the receipt was held: its primary reading first, then the others.
        keys: Vec<String>,
        receipt: PartReceipt,
        seq: u64,
    },
    /// A multipart MO's part an earlier run kept for reassembly (`part`), or the mark that
    /// its message was delivered (`part` `None`: what is held of it is dropped), read back
    /// at start in the order they were kept ([`kept_partials`]).
    KeptMo {
        carrier: Arc<str>,
        deliver_sm: Box<DeliverSm>,
        /// When the part first arrived: its reassembly TTL runs from then.
        queued: u64,
        part: bool,
        /// A dead node's (account, seq), when this node took its slot over: the item
        /// leaves that account, and a part is kept again under this node's own.
        adopted: Option<(Arc<str>, u64)>,
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

/// Receipts that arrived before their submit_sm_resp, by (carrier, normalised id), with
/// the time they give up waiting.
#[derive(Debug, Default)]
pub(crate) struct EarlyReceipts {
    held: HashMap<CarrierKey, Held>,
    /// The other readings of a held receipt's id (the text id in both bases, when the
    /// TLV's reading is the primary one) → its primary key: a response whose id only
    /// one of them matches (a carrier configured with the wrong id style) still finds it.
    aliases: HashMap<CarrierKey, String>,
    /// With several nodes, when each held receipt is next looked up in the store again
    /// (its response may have been recorded by the node that sent the part).
    recheck: HashMap<CarrierKey, u64>,
}

/// (carrier, normalised carrier message id).
type CarrierKey = (Arc<str>, String);

/// One early receipt: when it gives up waiting, what it says, its id's other readings.
#[derive(Debug)]
struct Held {
    deadline: u64,
    receipt: PartReceipt,
    aliases: Vec<String>,
}

/// Carrier message ids → (message, part), per carrier, looked up by `&str`: no key is
/// built per lookup.
#[derive(Debug, Default)]
struct CarrierIds {
    by_carrier: HashMap<Arc<str>, HashMap<String, (u64, u16)>>,
    len: usize,
}

impl CarrierIds {
    fn get(&self, carrier: &str, id: &str) -> Option<(u64, u16)> {
        self.by_carrier.get(carrier)?.get(id).copied()
    }

    fn insert(&mut self, carrier: &Arc<str>, id: String, at: (u64, u16)) {
        let ids = match self.by_carrier.get_mut(&**carrier) {
            Some(ids) => ids,
            None => self.by_carrier.entry(Arc::clone(carrier)).or_default(),
        };
        if ids.insert(id, at).is_none() {
            self.len += 1;
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    /// Empties it, keeping each carrier's table and its room (no regrowth, rehash by
    /// rehash, when it fills again).
    fn clear(&mut self) {
        for ids in self.by_carrier.values_mut() {
            ids.clear();
        }
        self.len = 0;
    }
}

/// The carrier ids written lately, in two generations: the newest up to
/// [`RECENT_IDS`], and the one before. When the newest is full it becomes the older
/// one and the older one, emptied, takes the new ids; so the last `RECENT_IDS` ids at
/// least are always in memory (a receipt seconds after its submit never reads the
/// store), at most twice that.
#[derive(Debug, Default)]
struct RecentIds {
    newest: CarrierIds,
    older: CarrierIds,
}

impl RecentIds {
    fn get(&self, carrier: &str, id: &str) -> Option<(u64, u16)> {
        self.newest
            .get(carrier, id)
            .or_else(|| self.older.get(carrier, id))
    }

    fn insert(&mut self, carrier: &Arc<str>, id: String, at: (u64, u16)) {
        self.newest.insert(carrier, id, at);
    }

    /// Starts a new generation once the newest holds [`RECENT_IDS`].
    fn bound(&mut self) {
        if self.newest.len() >= RECENT_IDS {
            std::mem::swap(&mut self.newest, &mut self.older);
            self.newest.clear();
        }
    }
}

/// Most events the writer applies and commits at once. Outcomes waiting here when the
/// process dies are the duplicates a restart can send (with the carrier windows).
pub const WRITER_BATCH: usize = 1024;

/// Most records the writer keeps between batches (messages not final yet, newest kept;
/// an evicted one is read back from the store when its next event comes). About 0.5 KB
/// each for a one-part message (record, request bytes, part, map entry): 16 MB at most.
pub(crate) const RECORD_CACHE: usize = 32_768;

/// Carrier ids the writer keeps in memory for matching receipts, per generation (about
/// 100 B each; two generations: 25 MB at most); older ones are looked up in the store.
const RECENT_IDS: usize = 131_072;

/// Most early receipts held at once.
pub(crate) const EARLY_MAX: usize = 100_000;

/// With several nodes, how often a held receipt is looked up in the store again.
const EARLY_RECHECK_MS: u64 = 1_000;

/// Held receipts looked up again per batch at most (a lookup is a store read each).
const EARLY_RECHECK_MAX: usize = 512;

/// A carrier deliver_sm, read once per batch.
#[derive(Debug)]
enum Inbound {
    /// A receipt: its candidate ids (most likely first) and what it says; `None` when it
    /// carries no id.
    Receipt(Option<(Vec<String>, Option<PartReceipt>)>),
    /// A mobile-originated message.
    Mo,
}

/// What a receipt says about a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PartReceipt {
    state: State,
    err: u16,
    /// The carrier's own `stat:` code when it is not an SMPP state name (see
    /// [`carrier_stat`]): carried through to the upstream receipt.
    stat: Option<[u8; 7]>,
}

/// A receipt's `stat:` when it is a carrier's own code rather than an SMPP state name:
/// seven printable ASCII characters that are not all digits, such as the Chinese
/// carriers' `MK:0001`, `DB:0140`, `MA:0054` (CMPP/SMGP Stat, passed on by their links
/// and by SMPP aggregators). The record keeps it so the upstream receipt says what the
/// carrier said; message_state still gives the SMPP state.
fn carrier_stat(stat: Option<&str>) -> Option<[u8; 7]> {
    let stat = stat?.trim();
    let code: [u8; 7] = stat.as_bytes().try_into().ok()?;
    let printable = code.iter().all(u8::is_ascii_graphic);
    let digits = code.iter().all(u8::is_ascii_digit);
    (printable && !digits && MessageState::from_stat(stat).is_none()).then_some(code)
}

/// What a part's `error` holds for its upstream receipt: the carrier's own `stat:` code
/// (with its last three characters as `err:` when they are digits), or the `err:` code.
fn receipt_code(error: Option<&str>) -> (Option<String>, u16) {
    match error {
        Some(code) if carrier_stat(Some(code)).is_some() => {
            let err = code.get(4..).and_then(|d| d.parse().ok()).unwrap_or(0);
            (Some(code.to_owned()), err)
        }
        Some(err) => (None, err.parse().unwrap_or(0)),
        None => (None, 0),
    }
}

/// The pool's [`Events`]: outcomes and inbound requests into the writer's queues.
pub(crate) struct PoolEvents {
    pub(crate) outcomes: mpsc::Sender<Outcome>,
    pub(crate) events: mpsc::Sender<Event>,
}

impl Events for PoolEvents {
    fn outcome(&self, outcome: Outcome) {
        // Never full: outcomes outstanding are at most the parts in the pool, which the
        // dispatcher caps below this queue's capacity (see `backlog`).
        if let Err(mpsc::error::TrySendError::Full(outcome)) = self.outcomes.try_send(outcome) {
            metrics::counter!("smppgate_internal_errors_total", "what" => "outcome queue full")
                .increment(1);
            tracing::error!(
                id = outcome.id,
                part = outcome.part,
                "outcome queue full (a bug): the part stays pending and goes again after a restart"
            );
        }
    }

    fn inbound(
        &self,
        carrier: &Arc<str>,
        request: InboundRequest,
    ) -> futures::future::BoxFuture<'static, ()> {
        let events = self.events.clone();
        let event = Event::Inbound(Arc::clone(carrier), Box::new(request));
        Box::pin(async move {
            // Waits for room: the carrier's deliver_sm is answered later, never dropped.
            // (A closed queue means the gateway is stopping: unanswered, the carrier
            // sends it again.)
            let _ = events.send(event).await;
        })
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
        State::Unknown | State::Accepted | State::Sent | State::Held => MessageState::Unknown,
    }
}

/// Worse states win when parts differ.
const fn severity(state: State) -> u8 {
    match state {
        State::Accepted | State::Sent | State::Held => 0,
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

/// What the writer needs, handed over by [`super::Gateway::start`].
pub(crate) struct WriterParts {
    pub(crate) outcomes: mpsc::Receiver<Outcome>,
    pub(crate) events: mpsc::Receiver<Event>,
    pub(crate) config: Arc<Config>,
    pub(crate) accounts: Arc<Accounts>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) group: Arc<GroupCommit>,
    pub(crate) in_pool: Arc<InPool>,
    pub(crate) backlog: Arc<Backlog>,
    pub(crate) outbox_wake: Arc<super::wakes::Wakes>,
    /// Wakes the webhook sink when a commit queued webhook events.
    pub(crate) webhook_wake: Arc<super::wakes::Wakes>,
    pub(crate) stats: Arc<Stats>,
    pub(crate) clock: Clock,
    /// Cancelled when the writer is to apply what is queued and return.
    pub(crate) finish: CancellationToken,
    /// MO replies that change the suppression list (issue #15 rule 3).
    pub(crate) opt_out: Arc<OptOutReplies>,
}

/// The writer: the state of every message changes here only.
pub(crate) struct Writer {
    config: Arc<Config>,
    accounts: Arc<Accounts>,
    store: Arc<dyn Store>,
    group: Arc<GroupCommit>,
    in_pool: Arc<InPool>,
    backlog: Arc<Backlog>,
    outbox_wake: Arc<super::wakes::Wakes>,
    webhook_wake: Arc<super::wakes::Wakes>,
    stats: Arc<Stats>,
    clock: Clock,
    /// The current record of messages not final (authoritative: only this task changes
    /// them), at most [`RECORD_CACHE`] between batches, oldest ids evicted first.
    records: BTreeMap<u64, Arc<MessageRecord>>,
    /// Records changed by this batch: each is written once, whole, at its end.
    dirty: Vec<u64>,
    /// Carrier-id index entries written recently (bounded by [`RECENT_IDS`]).
    index: RecentIds,
    /// Carrier-id lookups read from the store for this batch.
    looked_up: CarrierIds,
    early: EarlyReceipts,
    /// The pseudo-account this node keeps its early receipts under ([`own_early_account`]).
    early_account: String,
    /// The pseudo-account this node keeps its MO parts under ([`own_partial_account`]).
    partial_account: String,
    /// Held receipts this batch's prefetch looked up again.
    rechecked: Vec<CarrierKey>,
    /// What the batch's prefetch read of each carrier deliver_sm, in order (parsed once).
    parsed: std::collections::VecDeque<Inbound>,
    /// `smppgate_receipts_matched_total` handles by (carrier, primary reading, stat).
    matched_counters: HashMap<(Arc<str>, bool, &'static str), metrics::Counter>,
    ops: Vec<Op>,
    /// This batch's read of the store failed (after its tries): what it could not read
    /// was not applied, so its parts stay out of the pool's reach and the carriers'
    /// deliver_sm are answered for a retry.
    read_failed: bool,
    answers: Vec<InboundRequest>,
    /// Parts whose outcome this batch records: they leave [`InPool`] once committed.
    settled_parts: Vec<PartKey>,
    /// Accounts of the messages this batch moved out of `Accepted` (every part taken by
    /// a carrier, or ended): their backlog places are freed once committed.
    finished: Vec<Arc<str>>,
    /// Review decisions of this batch, answered once it is committed.
    reviewed: Vec<(ReviewAnswer, ReviewResult)>,
    /// Client-segmented messages judged whole in this batch, answered once committed.
    assembled: Vec<(AssembledAnswer, Vec<Arc<MessageRecord>>)>,
    reassembler: Reassembler,
    /// What an open multipart MO's parts share beyond the reassembler's key (bounded by
    /// its open messages): carrier, data_coding and the addresses as received.
    partial: HashMap<PartialKey, PartialMo>,
    carrier_styles: HashMap<Arc<str>, IdStyle>,
    numbers: PrefixTable<String>,
    opt_out: Arc<OptOutReplies>,
}

impl Writer {
    fn new(parts: &WriterParts) -> Self {
        let config = &parts.config;
        let mo_ttl_ms =
            u64::try_from(config.receipts.mo_reassembly_ttl.as_millis()).unwrap_or(u64::MAX);
        let carrier_styles = config
            .carriers
            .iter()
            .map(|c| (Arc::from(c.name.as_str()), style_of(c.message_id_style)))
            .collect();
        let mut numbers = PrefixTable::new();
        for account in &config.accounts {
            for number in &account.numbers {
                // Not digits: refused by validation, skipped here.
                let _ = numbers.insert(number, account.system_id.clone());
            }
        }
        Self {
            config: Arc::clone(&parts.config),
            accounts: Arc::clone(&parts.accounts),
            store: Arc::clone(&parts.store),
            group: Arc::clone(&parts.group),
            in_pool: Arc::clone(&parts.in_pool),
            backlog: Arc::clone(&parts.backlog),
            outbox_wake: Arc::clone(&parts.outbox_wake),
            webhook_wake: Arc::clone(&parts.webhook_wake),
            stats: Arc::clone(&parts.stats),
            clock: parts.clock,
            records: BTreeMap::new(),
            dirty: Vec::new(),
            index: RecentIds::default(),
            looked_up: CarrierIds::default(),
            early: EarlyReceipts::default(),
            early_account: own_early_account(&parts.config),
            partial_account: own_partial_account(&parts.config),
            rechecked: Vec::new(),
            parsed: std::collections::VecDeque::new(),
            matched_counters: HashMap::new(),
            ops: Vec::new(),
            read_failed: false,
            answers: Vec::new(),
            settled_parts: Vec::new(),
            finished: Vec::new(),
            reviewed: Vec::new(),
            assembled: Vec::new(),
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
            opt_out: Arc::clone(&parts.opt_out),
        }
    }

    fn now(&self) -> u64 {
        self.clock.wall_ms()
    }

    /// The record of `id` to change (marked to be written at the end of the batch).
    /// Records are in memory by now: cached, or read by [`Writer::prefetch`].
    fn record(&mut self, id: u64) -> Option<&mut MessageRecord> {
        if !self.records.contains_key(&id) {
            return None;
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

    /// Reads what the batch needs and the cache lacks (records, carrier ids), in one
    /// blocking task, so that applying the batch touches no store.
    async fn prefetch(&mut self, outcomes: &[Outcome], events: &[Event]) {
        self.looked_up.clear();
        self.parsed.clear();
        let mut ids: Vec<u64> = Vec::new();
        let mut keys: Vec<(Arc<str>, String)> = Vec::new();
        // With several nodes a receipt may come in here before the node that sent its
        // part recorded the response: nothing here would ever match it, so the held ones
        // are looked up in the store again, each once a second ([`Writer::match_held`]).
        self.rechecked = self.early.due_for_recheck(self.now(), EARLY_RECHECK_MAX);
        keys.extend(self.rechecked.iter().cloned());
        for outcome in outcomes {
            if !self.records.contains_key(&outcome.id) {
                ids.push(outcome.id);
            }
        }
        for event in events {
            match event {
                Event::Expire(id) | Event::Settle(id) | Event::Review { id, .. }
                    if !self.records.contains_key(id) =>
                {
                    ids.push(*id);
                }
                Event::Assembled { ids: parts, .. } => {
                    ids.extend(parts.iter().filter(|id| !self.records.contains_key(id)));
                }
                Event::Inbound(carrier, request) => {
                    let parsed = self.parse(carrier, &request.pdu.body);
                    if let Inbound::Receipt(Some((candidates, _))) = &parsed {
                        self.wants(carrier, candidates, &mut ids, &mut keys);
                    }
                    self.parsed.push_back(parsed);
                }
                Event::Replay {
                    carrier,
                    keys: held,
                    ..
                } => {
                    self.wants(carrier, held, &mut ids, &mut keys);
                }
                _ => {}
            }
        }
        if ids.is_empty() && keys.is_empty() {
            return;
        }
        // A failed read is tried again (as the commit is): applied without its records, an
        // accepted part's outcome would be lost while the part left the pool's set, and
        // the dispatcher would send it again.
        // The ids and keys go into each try and come back out of it (no copy per batch).
        let mut delay = Duration::from_millis(50);
        let mut wanted = (ids, keys);
        for tries in 1..=READ_TRIES {
            let store = Arc::clone(&self.store);
            let (mut ids, keys) = wanted;
            let read = tokio::task::spawn_blocking(move || {
                let read = (|| {
                    // By index into `keys` (taken from it once the read holds).
                    let mut found = Vec::new();
                    for (index, key) in keys.iter().enumerate() {
                        if let Some(hit) = store.by_carrier_id(&key.0, &key.1)? {
                            ids.push(hit.0);
                            found.push((index, hit));
                        }
                    }
                    ids.sort_unstable();
                    ids.dedup();
                    // A record this task holds is read again only when its carrier id had
                    // left the in-memory index; the held one wins below (it is newer).
                    let records: Vec<MessageRecord> =
                        store.get_many(&ids)?.into_iter().flatten().collect();
                    Ok::<_, crate::store::StoreError>((found, records))
                })();
                (read, ids, keys)
            })
            .await;
            let Ok((read, ids, keys)) = read else {
                break; // the runtime is stopping
            };
            match read {
                Ok((found, records)) => {
                    let mut keys = keys;
                    for (index, hit) in found {
                        if let Some((carrier, id)) = keys.get_mut(index) {
                            self.looked_up.insert(carrier, std::mem::take(id), hit);
                        }
                    }
                    for record in records {
                        // Never replaces a record this task already holds (it is newer).
                        self.records
                            .entry(record.id)
                            .or_insert_with(|| Arc::new(record));
                    }
                    return;
                }
                Err(error) => {
                    store_error(&self.stats, "writer read", &error);
                    wanted = (ids, keys);
                }
            }
            if tries < READ_TRIES {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
        tracing::error!(
            "the writer could not read the store: this batch's outcomes are kept from the pool and its receipts answered ESME_RX_T_APPN"
        );
        self.read_failed = true;
    }

    /// What a receipt needs read: the record its carrier id names when that id is known
    /// here (cached index) but the record is not; otherwise the id lookups themselves.
    fn wants(
        &self,
        carrier: &Arc<str>,
        candidates: &[String],
        ids: &mut Vec<u64>,
        keys: &mut Vec<(Arc<str>, String)>,
    ) {
        let known = candidates.iter().find_map(|k| self.index.get(carrier, k));
        match known {
            Some((id, _)) => {
                if !self.records.contains_key(&id) {
                    ids.push(id);
                }
            }
            None => keys.extend(candidates.iter().map(|k| (Arc::clone(carrier), k.clone()))),
        }
    }

    /// Takes the records intake handed over in this batch before anything is read: an
    /// outcome in the same batch for a message accepted in it (the usual case under load:
    /// carriers answer within a batch's time) then finds its record here instead of
    /// reading it from the store.
    fn take_accepted(&mut self, events: &mut Vec<Event>) {
        events.retain(|event| match event {
            Event::Accepted(record) => {
                self.accepted(Arc::clone(record));
                false
            }
            _ => true,
        });
    }

    /// A record intake handed over. Never replaces one this task already holds (it
    /// would be older).
    fn accepted(&mut self, record: Arc<MessageRecord>) {
        self.records.entry(record.id).or_insert(record);
    }

    fn apply(&mut self, event: Event) {
        match event {
            Event::Accepted(record) => self.accepted(record),
            Event::Inbound(carrier, request) => self.inbound(&carrier, *request),
            Event::Expire(id) => self.expire(id),
            Event::Settle(id) => {
                if self.record(id).is_some() {
                    self.settle(id);
                }
            }
            Event::Ops(ops) => self.ops.extend(ops),
            Event::Review { id, action, done } => self.review(id, action, done),
            Event::Assembled { ids, whole, done } => self.assembled(ids, &whole, done),
            Event::Replay {
                account,
                carrier,
                keys,
                receipt,
                seq,
            } => self.replay(&account, &carrier, keys, receipt, seq),
            Event::KeptMo {
                carrier,
                deliver_sm,
                queued,
                part,
                adopted,
            } => {
                if let Some((account, seq)) = adopted {
                    self.ops.push(Op::OutboxAck {
                        account: account.to_string(),
                        seq,
                    });
                    if part
                        && let Some(item) =
                            kept_part(&self.partial_account, &carrier, &deliver_sm, queued)
                    {
                        self.ops.push(Op::OutboxPush(item));
                    }
                }
                if part {
                    self.mo_part(&carrier, &deliver_sm, Some(queued));
                } else {
                    self.mo_delivered(&deliver_sm);
                }
            }
        }
    }

    fn outcome(&mut self, outcome: Outcome) {
        let now = self.now();
        let style = self.style(&outcome.carrier);
        self.settled_parts.push((outcome.id, outcome.part));
        if let OutcomeResult::Failed {
            reason: FailReason::Shutdown,
            ..
        } = outcome.result
        {
            // Not sent because the gateway is stopping: it stays pending (sent again
            // after the restart), never failed.
            return;
        }
        if let OutcomeResult::Failed {
            reason: FailReason::Expired,
            ..
        } = outcome.result
        {
            // Never sent, its validity over: the message expires as housekeeping would
            // expire it (its open parts, the EXPIRED receipt if its account wants them).
            self.expire(outcome.id);
            return;
        }
        let stats = Arc::clone(&self.stats);
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
        let mut durable = false;
        match &outcome.result {
            OutcomeResult::Accepted {
                message_id,
                notified,
            } => {
                durable = *notified;
                bump(&stats.parts_sent);
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
                bump(&stats.parts_failed);
                part.state = State::Failed;
                part.status = status.0;
            }
        }
        for key in keys {
            // The store's index is for a receipt that comes after a restart or on another
            // node's bind: written only when the carrier was asked for one (as Kannel
            // and Jasmin keep a DLR mapping only when a DLR was asked for). A carrier that
            // reports anyway is still matched from memory while this process runs.
            if durable {
                self.ops.push(Op::CarrierId {
                    carrier: outcome.carrier.to_string(),
                    carrier_id: key.clone(),
                    id: outcome.id,
                    part: outcome.part,
                });
            }
            if early.is_none() {
                early = self.early.take(&outcome.carrier, &key);
            }
            self.index
                .insert(&outcome.carrier, key, (outcome.id, outcome.part));
        }
        if let Some((receipt, alternate)) = early {
            self.matched(
                &outcome.carrier,
                alternate,
                (outcome.id, outcome.part),
                receipt,
            );
        } else {
            self.settle(outcome.id);
        }
    }

    /// A carrier deliver_sm read once: a receipt (its candidate ids and what it says)
    /// or an MO.
    fn parse(&self, carrier: &Arc<str>, body: &Body) -> Inbound {
        match DeliveryReceipt::from_body(body) {
            Some(receipt) => Inbound::Receipt(self.receipt_keys(carrier, &receipt)),
            None => Inbound::Mo,
        }
    }

    fn inbound(&mut self, carrier: &Arc<str>, request: InboundRequest) {
        let parsed = match self.parsed.pop_front() {
            Some(parsed) => parsed,
            None => self.parse(carrier, &request.pdu.body),
        };
        match parsed {
            Inbound::Receipt(keys) => self.receipt(carrier, keys),
            Inbound::Mo => self.mo(carrier, &request.pdu.body),
        }
        self.answers.push(request);
    }

    /// The (message, part) of a carrier id: written lately, or read for this batch.
    fn lookup(&self, carrier: &str, key: &str) -> Option<(u64, u16)> {
        self.index
            .get(carrier, key)
            .or_else(|| self.looked_up.get(carrier, key))
    }

    /// The normalised ids a receipt may match, most likely first, and what it says.
    /// `None` for a receipt without an id or with an intermediate state.
    fn receipt_keys(
        &self,
        carrier: &Arc<str>,
        receipt: &DeliveryReceipt,
    ) -> Option<(Vec<String>, Option<PartReceipt>)> {
        let style = self.style(carrier);
        let candidates = receipt.id_candidates(style, style)?;
        let stat = carrier_stat(receipt.text.stat.as_deref());
        // A carrier's own code without a message_state TLV counts as undeliverable.
        let state = receipt
            .state()
            .and_then(state_of)
            .or_else(|| stat.map(|_| State::Failed));
        let part_receipt = state.map(|state| PartReceipt {
            state,
            err: u16::try_from(receipt.text.err_code().unwrap_or(0)).unwrap_or(u16::MAX),
            stat,
        });
        // Also try the text id in the other base: carriers write decimal in the text and
        // hex in the TLV (or the reverse).
        let mut keys: Vec<String> = candidates.iter().map(|c| c.as_str().to_owned()).collect();
        if let Some(text_id) = &receipt.text.id {
            for c in normalise_id(text_id, IdStyle::Auto).iter() {
                keys.push(c.as_str().to_owned());
            }
        }
        Some((keys, part_receipt))
    }

    fn receipt(&mut self, carrier: &Arc<str>, parsed: Option<(Vec<String>, Option<PartReceipt>)>) {
        let Some((keys, part_receipt)) = parsed else {
            tracing::warn!(%carrier, "receipt without a message id");
            bump(&self.stats.receipts_unmatched);
            return;
        };
        let Some(part_receipt) = part_receipt else {
            // ENROUTE / ACCEPTD: intermediate, nothing to record.
            return;
        };
        for (index, key) in keys.iter().enumerate() {
            if let Some(found) = self.lookup(carrier, key) {
                self.matched(carrier, index > 0, found, part_receipt);
                return;
            }
        }
        bump(&self.stats.receipts_early);
        self.hold_early(carrier, keys, part_receipt);
    }

    /// Holds a receipt that matched nothing yet, in memory for matching (under each of
    /// `keys`, its id's readings, most likely first) and in the store (committed before
    /// the carrier's deliver_sm is answered) so a crash does not lose it.
    fn hold_early(&mut self, carrier: &Arc<str>, mut keys: Vec<String>, receipt: PartReceipt) {
        if keys.is_empty() {
            keys.push(String::new());
        }
        let key = keys.remove(0);
        let now = self.now();
        if self.early.held.len() >= EARLY_MAX {
            // Bounded: past the limit a receipt cannot wait for its response. It is kept
            // for inspection as unmatched (`smppgate receipts unmatched`), counted, never
            // dropped unseen.
            tracing::warn!(%carrier, carrier_id = %key, "early-receipt buffer full: receipt kept as unmatched");
            bump(&self.stats.receipts_unmatched);
            if let Some(item) = unmatched_item(carrier, &key, receipt, now) {
                self.ops.push(Op::OutboxPush(item));
            }
            return;
        }
        let ttl_ms = u64::try_from(self.config.receipts.early_ttl.as_millis()).unwrap_or(u64::MAX);
        if let Some(item) = kept_receipt(&self.early_account, carrier, &key, &keys, receipt, now) {
            self.ops.push(Op::OutboxPush(item));
        }
        let recheck = self
            .config
            .cluster
            .is_some()
            .then_some(now + EARLY_RECHECK_MS);
        self.early.hold(
            (Arc::clone(carrier), key),
            now.saturating_add(ttl_ms),
            recheck,
            receipt,
            keys,
        );
    }

    /// A receipt matched to its part, counted and applied, wherever it was matched (on
    /// arrival, held early and taken by the part's response, replayed, rechecked).
    /// `alternate`: by another reading of its id than the carrier's style gives first (the
    /// other base, or the text id when the TLV's did not match). Its final state (`stat`)
    /// goes into the delivery rate per carrier.
    fn matched(
        &mut self,
        carrier: &Arc<str>,
        alternate: bool,
        (id, part): (u64, u16),
        receipt: PartReceipt,
    ) {
        bump(&self.stats.receipts_matched);
        let stat = receipt_state(receipt.state).stat();
        self.matched_counters
            .entry((Arc::clone(carrier), !alternate, stat))
            .or_insert_with(|| {
                let reading = if alternate { "alternate" } else { "primary" };
                metrics::counter!("smppgate_receipts_matched_total", "carrier" => carrier.to_string(), "reading" => reading, "stat" => stat)
            })
            .increment(1);
        if alternate {
            bump(&self.stats.receipts_matched_alternate);
        }
        self.apply_receipt(id, part, receipt);
    }

    fn replay(
        &mut self,
        account: &str,
        carrier: &Arc<str>,
        keys: Vec<String>,
        receipt: PartReceipt,
        seq: u64,
    ) {
        self.ops.push(Op::OutboxAck {
            account: account.to_owned(),
            seq,
        });
        let found = keys
            .iter()
            .enumerate()
            .find_map(|(index, key)| Some((index > 0, self.lookup(carrier, key)?)));
        if let Some((alternate, found)) = found {
            self.matched(carrier, alternate, found, receipt);
        } else {
            self.hold_early(carrier, keys, receipt);
        }
    }

    fn apply_receipt(&mut self, id: u64, part: u16, receipt: PartReceipt) {
        let now = self.now();
        let Some(record) = self.record(id) else {
            // Read before the batch unless the store failed (counted there) or the
            // message was removed by retention.
            tracing::warn!(id, part, "receipt for a message not in the store");
            return;
        };
        let Some(slot) = record.parts.get_mut(usize::from(part)) else {
            return;
        };
        // A duplicate receipt (carriers re-send them): nothing changes, and no second
        // upstream receipt in the per-part modes. A failed part may still be told it
        // was delivered (a submit that timed out, taken after all).
        if slot.state.is_final() && (slot.state != State::Failed || receipt.state == State::Failed)
        {
            return;
        }
        slot.state = receipt.state;
        slot.error = Some(match receipt.stat {
            Some(code) => String::from_utf8_lossy(&code).into_owned(),
            None => format!("{:03}", receipt.err),
        });
        slot.updated = now;
        self.part_final(id, part);
        self.settle(id);
    }

    /// A part became final: per-part receipt modes send one now.
    fn part_final(&mut self, id: u64, part: u16) {
        let Some(record) = self.records.get(&id) else {
            return;
        };
        let Some(account) = self.accounts.get(record.account.as_bytes()) else {
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
            let item = upstream_receipt(
                record,
                account.config.id_style,
                state,
                err.as_deref(),
                &self.clock,
            );
            if let Some(item) = item {
                self.ops.push(Op::OutboxPush(item));
            }
        }
    }

    /// Recomputes a message's overall state; when every part is final, it is final
    /// (worst part wins) and its receipt is queued.
    fn settle(&mut self, id: u64) {
        let now = self.clock.wall_ms();
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
            // An account a reload removed: its messages still end (their receipts have
            // no one to go to); before, they stayed pending for good.
            let account = self.accounts.get(record.account.as_bytes());
            let mode = account
                .as_ref()
                .map_or(ReceiptMode::PerMessage, |a| a.config.receipts);
            let state = match mode {
                ReceiptMode::LastFinal => last.unwrap_or(worst),
                _ => worst,
            };
            if let Some(account) = account
                && record.wants_receipt
                && matches!(mode, ReceiptMode::PerMessage | ReceiptMode::LastFinal)
            {
                let err = record
                    .parts
                    .iter()
                    .find(|p| p.state == worst)
                    .and_then(|p| p.error.clone());
                if let Some(item) = upstream_receipt(
                    record,
                    account.config.id_style,
                    state,
                    err.as_deref(),
                    &self.clock,
                ) {
                    self.ops.push(Op::OutboxPush(item));
                }
            }
            state
        } else if record
            .parts
            .iter()
            .all(|p| !matches!(p.state, State::Accepted | State::Held))
        {
            State::Sent
        } else {
            return;
        };
        if new_state != record.state {
            // Every part has left the gateway (a carrier took it, or it ended): the
            // message no longer counts against the account's backlog.
            if matches!(record.state, State::Accepted | State::Held) {
                self.finished.push(Arc::from(record.account.as_str()));
            }
            let from = std::mem::replace(&mut record.state, new_state);
            self.stats.delivery.changed(now, from, record);
            self.dirty.push(id);
        }
    }

    /// Releases or refuses a held message; the answer waits for the batch's commit.
    fn review(&mut self, id: u64, action: super::review::Action, done: ReviewAnswer) {
        let now = self.now();
        let result = match self.record(id) {
            None => Err(format!("message {id} is not pending (unknown, or final)")),
            Some(record) => super::review::apply(record, action, now),
        };
        if result.is_ok() && action == super::review::Action::Refuse {
            self.settle(id);
        }
        let result = result.and_then(|()| {
            self.records
                .get(&id)
                .cloned()
                .ok_or_else(|| format!("message {id} is not pending"))
        });
        self.reviewed.push((done, result));
    }

    /// Ends the wait of the parts of a client-segmented message judged whole; the
    /// answer (the records released) waits for the batch's commit.
    fn assembled(&mut self, ids: Vec<u64>, whole: &super::policy::Whole, done: AssembledAnswer) {
        use super::policy::Whole;
        let now = self.now();
        let mut released = Vec::new();
        for id in ids {
            let Some(record) = self.record(id) else {
                continue; // unknown, or final already (expired meanwhile)
            };
            if !super::review::assembled(record, whole, now) {
                continue;
            }
            match whole {
                Whole::Release => released.push(id),
                Whole::Refuse { .. } => self.settle(id),
                Whole::Hold { .. } => metrics::gauge!("smppgate_review_held").increment(1.0),
            }
        }
        let released = released
            .iter()
            .filter_map(|id| self.records.get(id).cloned())
            .collect();
        self.assembled.push((done, released));
    }

    fn expire(&mut self, id: u64) {
        let now = self.now();
        let Some(record) = self.record(id) else {
            return;
        };
        if record.state.is_final() {
            return;
        }
        // A part that ended other than delivered: a failure is known.
        let failed = record
            .parts
            .iter()
            .any(|p| p.state.is_final() && p.state != State::Delivered);
        // The parts still open: their state (a carrier took them, or not) and carrier.
        let mut open = Vec::new();
        for part in &mut record.parts {
            if !part.state.is_final() {
                open.push((part.state, part.carrier.clone()));
                part.state = State::Expired;
                part.updated = now;
            }
        }
        let wants = record.wants_receipt;
        let expired_receipts = self
            .records
            .get(&id)
            .and_then(|r| self.accounts.get(r.account.as_bytes()))
            .is_some_and(|a| a.config.expired_receipts);
        let no_failure_known = self
            .records
            .get(&id)
            .is_some_and(|r| !failed && self.no_failure_known(r, &open));
        if let Some(record) = self.records.get_mut(&id) {
            // Without EXPIRED receipts the message goes final silently.
            if !(wants && expired_receipts) || no_failure_known {
                Arc::make_mut(record).wants_receipt = false;
            }
        }
        self.settle(id);
    }

    /// Whether an expiring message's client asked for receipts on failure only and each
    /// part still open was taken by a carrier not asked for a success receipt
    /// (`request_receipts = false` passed the client's request on): the carrier would
    /// have reported a failure, so none is known, and an EXPIRED receipt would tell the
    /// client of a failure that most likely did not happen.
    fn no_failure_known(&self, record: &MessageRecord, open: &[(State, Option<String>)]) -> bool {
        let failure_only = || {
            request_of(record).is_some_and(|request| {
                request.registered_delivery.smsc_receipt() == SmscReceipt::OnFailure
            })
        };
        // A part that never left the gateway did fail.
        !open.is_empty()
            && open.iter().all(|(state, carrier)| {
                *state == State::Sent
                    && carrier.as_deref().is_some_and(|name| {
                        self.config
                            .carriers
                            .iter()
                            .any(|c| c.name == name && !c.request_receipts)
                    })
            })
            && failure_only()
    }

    fn mo(&mut self, carrier: &Arc<str>, body: &Body) {
        let Body::DeliverSm(deliver_sm) = body else {
            return;
        };
        bump(&self.stats.mo_received);
        self.mo_part(carrier, deliver_sm, None);
    }

    /// An MO, or a part of one: forwarded whole, or held for reassembly and kept in the
    /// store (committed before the carrier's deliver_sm is answered: a crash loses no
    /// part that was answered). `replayed`: a part an earlier run kept, first received
    /// then (not kept again).
    fn mo_part(&mut self, carrier: &Arc<str>, deliver_sm: &DeliverSm, replayed: Option<u64>) {
        let arrived = replayed.unwrap_or_else(|| self.clock.wall_ms());
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
            Some(segment) => match self.reassembler.push(&segment, arrived) {
                Ok(PushOutcome::Complete(message)) => {
                    self.partial.remove(&partial_key(&message));
                    self.kept_delivered(&message);
                    message.concatenated()
                }
                Ok(PushOutcome::Stored { .. }) => {
                    if replayed.is_none()
                        && let Some(item) =
                            kept_part(&self.partial_account, carrier, deliver_sm, arrived)
                    {
                        self.ops.push(Op::OutboxPush(item));
                    }
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

    /// The mark, kept after its parts, that a multipart MO was delivered: a restart that
    /// reads its parts back drops them there.
    fn kept_delivered(&mut self, message: &ReassembledMessage) {
        let mark = DeliverSm {
            source_addr: smppgate_protocol::types::Address::international(message.source.clone()),
            destination_addr: smppgate_protocol::types::Address::international(
                message.destination.clone(),
            ),
            tlvs: Tlvs::builder()
                .push_raw(KEPT_DONE, &done_key(message.concat))
                .build()
                .unwrap_or_default(),
            ..DeliverSm::default()
        };
        if let Some(item) = outbox_item(&self.partial_account, &mark, self.clock.wall_ms()) {
            self.ops.push(Op::OutboxPush(item));
        }
    }

    /// A kept mark read back at start: what is held of its message is dropped.
    fn mo_delivered(&mut self, mark: &DeliverSm) {
        let Some(concat) = mark.tlvs.get(KEPT_DONE).and_then(|key| done_concat(&key)) else {
            return;
        };
        let source = String::from_utf8_lossy(&mark.source_addr.addr).into_owned();
        let destination = String::from_utf8_lossy(&mark.destination_addr.addr).into_owned();
        self.reassembler.discard(&source, &destination, concat);
        self.partial
            .remove(&(source, destination, concat.reference));
    }

    /// Multipart MOs past the reassembly TTL go to their account with what arrived.
    fn expire_partial(&mut self, now: u64) {
        for message in self.reassembler.expire(now) {
            let Some(partial) = self.partial.remove(&partial_key(&message)) else {
                continue;
            };
            self.kept_delivered(&message);
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
            bump(&self.stats.mo_opt_out);
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
                bump(&self.stats.mo_unrouted);
                UNROUTED_MO.to_owned()
            });
        let source = String::from_utf8_lossy(&mo.source.addr);
        // An opt-out or opt-in reply changes the list now; its op commits with the MO.
        let reply = MoReply {
            account: &account,
            carrier: &mo.carrier,
            source: &source,
            destination: &destination,
            text: &text,
            now: self.clock.wall_ms(),
        };
        if let Some(op) = self.opt_out.on_mo(&reply) {
            self.ops.push(op);
        }
        tracing::info!(carrier = %mo.carrier, %source, %destination, %account, opt_out, "MO");
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
        if let Some(item) = outbox_item(&account, &out, self.clock.wall_ms()) {
            self.ops.push(Op::OutboxPush(item));
        }
    }

    /// Records another node wrote while this task held them (a receipt that came in on
    /// its carrier bind) were merged with it by the clustered store: the copies here are
    /// stale, so they are dropped, read again and settled (every part may be final now,
    /// the message's state and receipt still to follow), and that is committed. A round
    /// merges again only when another node wrote in between; bounded all the same.
    async fn settle_merged(&mut self) {
        const ROUNDS: usize = 4;
        for _ in 0..ROUNDS {
            let merged = self.store.take_merged();
            if merged.is_empty() {
                return;
            }
            for id in &merged {
                self.records.remove(id);
            }
            let events: Vec<Event> = merged.into_iter().map(Event::Settle).collect();
            self.prefetch(&[], &events).await;
            for event in &events {
                if let Event::Settle(id) = event {
                    self.settle(*id);
                }
            }
            self.finish().await;
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
        // The delivery statistics counted since the last commit go with this one.
        if let Some(op) = self.stats.delivery.take() {
            self.ops.push(op);
        }
        // The next batch's ops start at this one's size: growing a vector from empty
        // again in every batch re-copied it at each doubling, and the large ones landed
        // on fresh pages that the kernel had to fault in and zero (measured: 4 % of the
        // gateway's CPU in page clearing under an HTTP load).
        let next = Vec::with_capacity(self.ops.len().next_power_of_two());
        let mut ops = std::mem::replace(&mut self.ops, next);
        // Webhook accounts' receipts and MO go to their webhook queue (too, for "both").
        crate::http::webhook::route_to_webhooks(&mut ops, &self.accounts);
        // The queues that get items: their tasks are woken once the commit holds (a
        // handful of names per batch, not one per item).
        let mut queued: Vec<String> = Vec::new();
        for op in &ops {
            if let Op::OutboxPush(item) = op
                && !queued.contains(&item.account)
            {
                queued.push(item.account.clone());
            }
        }
        let status = if ops.is_empty() {
            CommandStatus::ESME_ROK
        } else {
            // A failed commit hands the ops back for the next try (no copy of every
            // batch kept for the rare failure).
            let result = self.group.commit_bulk_retrying(ops, COMMIT_TRIES).await;
            match result {
                Ok(()) => CommandStatus::ESME_ROK,
                Err(error) => {
                    store_error(&self.stats, "writer commit", &error);
                    tracing::error!("receipts answered ESME_RX_T_APPN (the carrier retries)");
                    CommandStatus::ESME_RX_T_APPN
                }
            }
        };
        // A batch whose read failed applied what it could: a part whose record it could
        // not read keeps its place in the pool's set (not sent again in this run; after a
        // restart it is pending), and the carriers send their deliver_sm again.
        let committed = status;
        let status = if std::mem::take(&mut self.read_failed) && status.is_ok() {
            CommandStatus::ESME_RX_T_APPN
        } else {
            status
        };
        if status.is_ok() {
            // Durable now: the parts leave the pool's set (a scan may take one that came
            // back unsent), the final messages their backlog places.
            self.in_pool.settled(&self.settled_parts);
        } else {
            // Not durable: the parts stay in the set, so nothing takes them again in
            // this run; after a restart they are pending and go again.
            tracing::warn!(parts = self.settled_parts.len(), "outcomes not stored");
        }
        self.settled_parts.clear();
        for account in self.finished.drain(..) {
            self.backlog.release(&account);
        }
        for (done, released) in self.assembled.drain(..) {
            let _ = done.send(if committed.is_ok() {
                released
            } else {
                Vec::new()
            });
        }
        for (done, result) in self.reviewed.drain(..) {
            let result = if committed.is_ok() {
                result
            } else {
                Err("the store failed: nothing was changed".to_owned())
            };
            let _ = done.send(result);
        }
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
        // match without a store read; bounded by generations (the store has every entry).
        self.index.bound();
        for queue in &queued {
            super::wakes::Wakes::queued(&self.outbox_wake, &self.webhook_wake, queue);
        }
    }
}

/// An upstream receipt for `record` in the account's id style.
/// The receipt of a message refused while the gateway was stopped (`smppgate review
/// refuse` on the store): what [`Writer::settle`] queues for a message whose parts are
/// all `Rejected`, per `account`'s receipt settings; `None` when none is due.
pub(crate) fn refusal_receipt(
    record: &MessageRecord,
    account: &config::AccountConfig,
    clock: &Clock,
) -> Option<OutboxItem> {
    let due = record.wants_receipt
        && matches!(
            account.receipts,
            ReceiptMode::PerMessage | ReceiptMode::LastFinal
        );
    let err = record.parts.first().and_then(|p| p.error.clone());
    due.then(|| {
        upstream_receipt(
            record,
            account.id_style,
            State::Rejected,
            err.as_deref(),
            clock,
        )
    })
    .flatten()
}

fn upstream_receipt(
    record: &MessageRecord,
    id_style: config::IdStyle,
    state: State,
    err: Option<&str>,
    clock: &Clock,
) -> Option<OutboxItem> {
    let request = request_of(record)?;
    // Receipts on failure only (10): none for a delivered message or part (the carrier
    // was asked for every outcome: `RegisteredDelivery::with_receipt`).
    if !request
        .registered_delivery
        .wants_receipt_for(state == State::Delivered)
    {
        return None;
    }
    let id = format_id(record.id, id_style);
    let receipt_state = receipt_state(state);
    let mut builder = ReceiptBuilder::new(id.clone(), receipt_state);
    let now = clock.utc_date();
    builder.submit_date = Some(now);
    builder.done_date = Some(now);
    builder.sub = 1;
    builder.dlvrd = u16::from(state == State::Delivered);
    let (stat_text, err) = receipt_code(err);
    builder.stat_text = stat_text;
    builder.err = err;
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
    outbox_item(&record.account, &deliver_sm, clock.wall_ms())
}

fn outbox_item(account: &str, deliver_sm: &DeliverSm, queued: u64) -> Option<OutboxItem> {
    let pdu = smppgate_protocol::pdu::Pdu::new(1, Body::DeliverSm(deliver_sm.clone()));
    let bytes = smppgate_protocol::codec::encode_to_bytes(&pdu).ok()?;
    Some(OutboxItem {
        seq: 0,
        account: account.to_owned(),
        deliver_sm: bytes.to_vec(),
        queued,
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
fn unmatched_item(
    carrier: &str,
    id: &str,
    receipt: PartReceipt,
    queued: u64,
) -> Option<OutboxItem> {
    kept_receipt(UNMATCHED, carrier, id, &[], receipt, queued)
}

/// The pseudo-account whose outbox keeps early receipts (not matched yet) across a
/// restart; items leave it when replayed at start or after the TTL.
pub(crate) const EARLY: &str = "~early";

/// The pseudo-account that keeps the early receipts of node `node` ([`EARLY`] for a node
/// on the embedded store): each cluster node keeps its own, so a node's start replays
/// only what it held (not what live nodes hold, which both would then match), and a node
/// that takes a dead one over replays the dead node's (`gateway::membership`).
pub(crate) fn early_account(node: Option<&str>) -> String {
    node_account(EARLY, node)
}

/// This gateway's own early account.
pub(crate) fn own_early_account(config: &crate::config::Config) -> String {
    early_account(own_node(config))
}

/// A pseudo-account of node `node` (`PREFIX.node`), or of the only node (`PREFIX`).
fn node_account(prefix: &str, node: Option<&str>) -> String {
    match node {
        Some(node) => format!("{prefix}.{node}"),
        None => prefix.to_owned(),
    }
}

/// This node's name in a `[cluster]`.
fn own_node(config: &crate::config::Config) -> Option<&str> {
    config.cluster.as_ref().map(|cluster| cluster.node.as_str())
}

/// The pseudo-account whose outbox keeps the parts of multipart MO held for reassembly
/// and, after a message's parts, the mark that it was delivered: a restart reads them
/// back in order, so what was pending is reassembled and nothing delivered goes twice.
/// Items leave it by age (housekeeping, past the reassembly TTL).
pub(crate) const PARTIAL: &str = "~partial";

/// The pseudo-account that keeps node `node`'s MO parts ([`PARTIAL`] on the embedded
/// store): a node that takes a dead one over adopts them (`gateway::membership`).
pub(crate) fn partial_account(node: Option<&str>) -> String {
    node_account(PARTIAL, node)
}

/// This gateway's own MO parts' account.
pub(crate) fn own_partial_account(config: &crate::config::Config) -> String {
    partial_account(own_node(config))
}

/// The vendor-range TLV in which a kept MO part carries the carrier it came from.
const KEPT_CARRIER: smppgate_protocol::tlv::TlvTag = smppgate_protocol::tlv::TlvTag(0x1402);

/// The vendor-range TLV of a delivered mark: the message's reference (2 octets), whether
/// it is 16 bits wide (1) and the total (1).
const KEPT_DONE: smppgate_protocol::tlv::TlvTag = smppgate_protocol::tlv::TlvTag(0x1403);

fn done_key(concat: smppgate_protocol::text::Concat) -> [u8; 4] {
    let [high, low] = concat.reference.to_be_bytes();
    [high, low, u8::from(concat.wide_reference), concat.total]
}

fn done_concat(key: &[u8]) -> Option<smppgate_protocol::text::Concat> {
    let [high, low, wide, total] = <[u8; 4]>::try_from(key).ok()?;
    Some(smppgate_protocol::text::Concat {
        reference: u16::from_be_bytes([high, low]),
        wide_reference: wide != 0,
        total,
        seq: 1,
    })
}

/// A multipart MO's part, kept as the carrier sent it with the carrier's name added.
fn kept_part(
    account: &str,
    carrier: &str,
    deliver_sm: &DeliverSm,
    queued: u64,
) -> Option<OutboxItem> {
    let mut kept = deliver_sm.clone();
    let mut tlvs = Tlvs::builder();
    for (tag, value) in &deliver_sm.tlvs {
        tlvs = tlvs.push_raw(tag, &value);
    }
    kept.tlvs = tlvs
        .push_raw(KEPT_CARRIER, carrier.as_bytes())
        .build()
        .ok()?;
    outbox_item(account, &kept, queued)
}

/// The MO parts and delivered marks an earlier run kept under `account`, in order, as
/// the writer's events; `adopted`: `account` is a dead node's, whose items move here.
///
/// # Errors
/// The store's read.
pub(crate) fn kept_partials(
    store: &dyn Store,
    account: &str,
    adopted: bool,
) -> Result<Vec<Event>, crate::store::StoreError> {
    let from: Arc<str> = Arc::from(account);
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let page = store.outbox_peek(account, after, 4096)?;
        let Some(last) = page.last().map(|item| item.seq) else {
            return Ok(events);
        };
        after = last;
        for item in page {
            let decoded = smppgate_protocol::codec::decode(Bytes::from(item.deliver_sm));
            let Ok(Body::DeliverSm(deliver_sm)) = decoded.map(|pdu| pdu.body) else {
                // Only a damaged store has one: left for housekeeping (past the TTL).
                tracing::error!(
                    account,
                    seq = item.seq,
                    "a kept MO part does not decode: not replayed"
                );
                continue;
            };
            let part = deliver_sm.tlvs.get(KEPT_DONE).is_none();
            let carrier = deliver_sm
                .tlvs
                .get(KEPT_CARRIER)
                .map(|name| Arc::from(String::from_utf8_lossy(&name).as_ref()))
                .unwrap_or_else(|| Arc::from(""));
            events.push(Event::KeptMo {
                carrier,
                deliver_sm: Box::new(deliver_sm),
                queued: item.queued,
                part,
                adopted: adopted.then(|| (Arc::clone(&from), item.seq)),
            });
        }
    }
}

/// The vendor-range TLV (SMPP 3.4 §5.3.2: 0x1400–0x3FFF) in which a kept early receipt
/// carries the other readings of its id, one per line. Kept items never leave the
/// gateway's pseudo-accounts.
const KEPT_ALIASES: smppgate_protocol::tlv::TlvTag = smppgate_protocol::tlv::TlvTag(0x1401);

/// A receipt kept in a pseudo-account's outbox: source_addr the carrier, the text its
/// normalised id, stat and err (and in `text:` the carrier's own stat code, if any); the
/// id's other readings (`aliases`, for an early receipt) in [`KEPT_ALIASES`], so that
/// after a restart a response matching only one of them still finds it.
fn kept_receipt(
    account: &str,
    carrier: &str,
    id: &str,
    aliases: &[String],
    receipt: PartReceipt,
    queued: u64,
) -> Option<OutboxItem> {
    // Without its aliases (a TLV over 64 KiB) rather than not kept at all.
    let tlvs = if aliases.is_empty() {
        smppgate_protocol::tlv::Tlvs::default()
    } else {
        smppgate_protocol::tlv::Tlvs::builder()
            .push_raw(KEPT_ALIASES, aliases.join("\n").as_bytes())
            .build()
            .unwrap_or_default()
    };
    let deliver_sm = DeliverSm {
        tlvs,
        source_addr: smppgate_protocol::types::Address::international(carrier.to_owned()),
        esm_class: EsmClass(0x04),
        // A carrier's own stat code goes in `text:` (`stat:` keeps the SMPP state, which
        // `kept_early` reads back).
        short_message: Bytes::from(match &receipt.stat {
            Some(code) => format!(
                "id:{id} stat:{} err:{:03} text:{}",
                receipt_state(receipt.state).stat(),
                receipt.err,
                String::from_utf8_lossy(code)
            ),
            None => format!(
                "id:{id} stat:{} err:{:03}",
                receipt_state(receipt.state).stat(),
                receipt.err
            ),
        }),
        ..DeliverSm::default()
    };
    outbox_item(account, &deliver_sm, queued)
}

/// The early receipts kept under `account` (by an earlier run, or a dead node), to
/// replay through the writer.
///
/// # Errors
/// The store cannot be read.
pub(crate) fn kept_early(
    store: &dyn Store,
    account: &str,
) -> Result<Vec<Event>, crate::store::StoreError> {
    let items = store.outbox(account, EARLY_MAX)?;
    let account: Arc<str> = Arc::from(account);
    Ok(items
        .into_iter()
        .filter_map(|item| {
            let pdu = smppgate_protocol::codec::decode(Bytes::from(item.deliver_sm)).ok()?;
            let Body::DeliverSm(deliver_sm) = pdu.body else {
                return None;
            };
            let text = smppgate_protocol::receipt::ReceiptText::parse(&deliver_sm.short_message);
            let state = text.state().and_then(state_of)?;
            let mut keys = vec![text.id.clone()?];
            if let Some(aliases) = deliver_sm.tlvs.get(KEPT_ALIASES) {
                keys.extend(
                    String::from_utf8_lossy(&aliases)
                        .split('\n')
                        .filter(|alias| !alias.is_empty())
                        .map(str::to_owned),
                );
            }
            Some(Event::Replay {
                account: Arc::clone(&account),
                carrier: Arc::from(String::from_utf8_lossy(&deliver_sm.source_addr.addr).as_ref()),
                keys,
                receipt: PartReceipt {
                    state,
                    err: u16::try_from(text.err_code().unwrap_or(0)).unwrap_or(u16::MAX),
                    stat: carrier_stat(text.text.as_deref()),
                },
                seq: item.seq,
            })
        })
        .collect())
}

/// Whether an MO text is an opt-out reply: `TD`, `T`, `N`, `R`, `退订`, `STOP`,
/// `UNSUBSCRIBE`, in any case and width, alone apart from spaces and punctuation.
#[must_use]
pub fn is_opt_out(text: &str) -> bool {
    let word = crate::policy::suppression::fold_reply(text);
    crate::config::default_opt_out_keywords().contains(&word)
}

impl EarlyReceipts {
    /// Holds `receipt` under `key` and its `aliases` until `deadline`, looked up in the
    /// store again from `recheck` on (with several nodes).
    fn hold(
        &mut self,
        key: CarrierKey,
        deadline: u64,
        recheck: Option<u64>,
        receipt: PartReceipt,
        aliases: Vec<String>,
    ) {
        // A second receipt for the same id replaces the first, aliases included (its
        // recheck time is set after: removing the first takes the first's away).
        self.remove(&key);
        if let Some(at) = recheck {
            self.recheck.insert(key.clone(), at);
        }
        let mut kept = Vec::with_capacity(aliases.len());
        for alias in aliases {
            if alias != key.1 && !kept.contains(&alias) {
                self.aliases
                    .insert((Arc::clone(&key.0), alias.clone()), key.1.clone());
                kept.push(alias);
            }
        }
        self.held.insert(
            key,
            Held {
                deadline,
                receipt,
                aliases: kept,
            },
        );
    }

    /// Removes a held receipt by its primary key, with its aliases and recheck time.
    fn remove(&mut self, key: &CarrierKey) -> Option<PartReceipt> {
        let held = self.held.remove(key)?;
        self.recheck.remove(key);
        for alias in held.aliases {
            let alias = (Arc::clone(&key.0), alias);
            if self.aliases.get(&alias) == Some(&key.1) {
                self.aliases.remove(&alias);
            }
        }
        Some(held.receipt)
    }

    /// The receipt held under `id`, as its primary key or (`true`) one of its aliases.
    fn take(&mut self, carrier: &Arc<str>, id: &str) -> Option<(PartReceipt, bool)> {
        if self.held.is_empty() {
            return None;
        }
        let mut key = (Arc::clone(carrier), id.to_owned());
        let alias = !self.held.contains_key(&key);
        if alias {
            key.1 = self.aliases.get(&key)?.clone();
        }
        Some((self.remove(&key)?, alias))
    }

    /// The keys (aliases included) of up to `limit` held receipts due to be looked up in
    /// the store again; each is next due [`EARLY_RECHECK_MS`] later (so past the limit
    /// the others come next).
    fn due_for_recheck(&mut self, now: u64, limit: usize) -> Vec<CarrierKey> {
        let due: Vec<CarrierKey> = self
            .recheck
            .iter()
            .filter(|(_, at)| **at <= now)
            .take(limit)
            .map(|(key, _)| key.clone())
            .collect();
        let mut keys = Vec::with_capacity(due.len());
        for key in due {
            self.recheck.insert(key.clone(), now + EARLY_RECHECK_MS);
            if let Some(held) = self.held.get(&key) {
                keys.extend(held.aliases.iter().map(|a| (Arc::clone(&key.0), a.clone())));
            }
            keys.push(key);
        }
        keys
    }

    /// Takes the receipts past their TTL (they are unmatched).
    fn expire(&mut self, now: u64) -> Vec<(CarrierKey, PartReceipt)> {
        let expired: Vec<CarrierKey> = self
            .held
            .iter()
            .filter(|(_, held)| held.deadline <= now)
            .map(|(key, _)| key.clone())
            .collect();
        expired
            .into_iter()
            .filter_map(|key| {
                let receipt = self.remove(&key)?;
                tracing::warn!(carrier = %key.0, carrier_id = %key.1, "receipt matched no message");
                Some((key, receipt))
            })
            .collect()
    }
}

impl Writer {
    /// The held receipts that [`Writer::prefetch`] looked up again and found recorded
    /// (by another node) are applied.
    fn match_held(&mut self) {
        for (carrier, key) in std::mem::take(&mut self.rechecked) {
            let Some(found) = self.lookup(&carrier, &key) else {
                continue;
            };
            if let Some((receipt, alternate)) = self.early.take(&carrier, &key) {
                self.matched(&carrier, alternate, found, receipt);
            }
        }
    }

    /// Time-driven work: multipart MOs past their TTL go out incomplete; early receipts
    /// past theirs are kept as unmatched.
    fn tick(&mut self) {
        self.match_held();
        let now = self.now();
        self.expire_partial(now);
        let unmatched = self.early.expire(now);
        self.stats
            .receipts_unmatched
            .fetch_add(unmatched.len() as u64, Ordering::Relaxed);
        for ((carrier, id), receipt) in unmatched {
            if let Some(item) = unmatched_item(&carrier, &id, receipt, now) {
                self.ops.push(Op::OutboxPush(item));
            }
        }
    }

    /// When something is due without an event: the next multipart MO or early receipt
    /// to expire, or the next early receipt to look up again (`[cluster]`: its response
    /// may be recorded by another node, which sends this one no event when it is).
    fn next_due(&self) -> Option<tokio::time::Instant> {
        let now = self.now();
        let mo = self.reassembler.next_expiry_ms();
        let early = self
            .early
            .held
            .values()
            .map(|held| held.deadline)
            .chain(self.early.recheck.values().copied())
            .min();
        let at = match (mo, early) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        // Early receipts are looked at once a second at most.
        let wait = Duration::from_millis(at.saturating_sub(now)).max(Duration::from_millis(
            if early.is_some() { 1000 } else { 0 },
        ));
        Some(tokio::time::Instant::now() + wait)
    }
}

/// Reads of a batch's records tried before the batch goes on without them (50 ms, then
/// doubling: about 1.5 s in all).
const READ_TRIES: u32 = 5;

/// Commits of a batch tried before it is given up (50 ms, then doubling: about 1.5 s);
/// the outbox's acknowledgements are tried as many times.
pub(crate) const COMMIT_TRIES: u32 = 6;

/// The writer task: runs until both queues' senders are gone, or until `finish` is
/// cancelled and what is queued is applied.
pub(crate) async fn run(mut parts: WriterParts) {
    let mut writer = Writer::new(&parts);
    let mut outcomes = Vec::with_capacity(WRITER_BATCH);
    let mut events = Vec::with_capacity(WRITER_BATCH);
    let finish = parts.finish.clone();
    let mut finishing = false;
    loop {
        if parts.outcomes.is_closed()
            && parts.outcomes.is_empty()
            && parts.events.is_closed()
            && parts.events.is_empty()
        {
            writer.tick();
            writer.finish().await;
            writer.settle_merged().await;
            return;
        }
        let due = writer.next_due();
        if !finishing {
            tokio::select! {
                biased;
                n = parts.outcomes.recv_many(&mut outcomes, WRITER_BATCH), if !parts.outcomes.is_closed() || !parts.outcomes.is_empty() => {
                    let _ = n;
                }
                n = parts.events.recv_many(&mut events, WRITER_BATCH), if !parts.events.is_closed() || !parts.events.is_empty() => {
                    let _ = n;
                }
                () = sleep_until(due) => {}
                () = finish.cancelled() => finishing = true,
            }
        }
        // Whatever else is queued now joins this batch.
        while outcomes.len() < WRITER_BATCH {
            match parts.outcomes.try_recv() {
                Ok(outcome) => outcomes.push(outcome),
                Err(_) => break,
            }
        }
        while events.len() < WRITER_BATCH {
            match parts.events.try_recv() {
                Ok(event) => events.push(event),
                Err(_) => break,
            }
        }
        let idle = outcomes.is_empty() && events.is_empty();
        let closed = parts.outcomes.is_closed() && parts.events.is_closed();
        if idle && (finishing || closed) {
            // Both queues ended, or told to finish and nothing is left.
            writer.tick();
            writer.finish().await;
            writer.settle_merged().await;
            return;
        }
        writer.take_accepted(&mut events);
        writer.prefetch(&outcomes, &events).await;
        writer.tick();
        for outcome in outcomes.drain(..) {
            writer.outcome(outcome);
        }
        for event in events.drain(..) {
            writer.apply(event);
        }
        writer.finish().await;
        writer.settle_merged().await;
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
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

    fn mo(sequence_number: u32, answers: &mpsc::Sender<crate::conn::Answer>) -> InboundRequest {
        let deliver_sm = DeliverSm {
            source_addr: smppgate_protocol::types::Address::international("8613800138000"),
            destination_addr: smppgate_protocol::types::Address::international("99999"),
            short_message: Bytes::from(format!("mo {sequence_number}")),
            ..DeliverSm::default()
        };
        InboundRequest {
            pdu: smppgate_protocol::pdu::Pdu::new(sequence_number, Body::DeliverSm(deliver_sm)),
            responder: Some(crate::conn::Responder {
                request: smppgate_protocol::command_id::CommandId::DeliverSm,
                answers: answers.clone(),
            }),
        }
    }

    /// A full writer queue: the carrier's deliver_sm waits (its bind awaits the future,
    /// nothing is spawned, nothing dropped); once the writer runs, every one is stored
    /// and answered ESME_ROK.
    #[tokio::test]
    async fn a_full_writer_queue_holds_the_deliver_sm_resp_back_and_loses_nothing() {
        let config = Arc::new(Config::demo());
        let store: Arc<dyn Store> = Arc::new(crate::store::memory::MemoryStore::new());
        let (outcomes_tx, outcomes) = mpsc::channel(8);
        let (events_tx, events) = mpsc::channel(2);
        let sink = PoolEvents {
            outcomes: outcomes_tx,
            events: events_tx,
        };
        let (answers_tx, mut answers) = mpsc::channel(16);
        let carrier: Arc<str> = Arc::from("sim");
        // Two fit the queue; the third waits for room.
        sink.inbound(&carrier, mo(1, &answers_tx)).await;
        sink.inbound(&carrier, mo(2, &answers_tx)).await;
        let third = tokio::spawn(sink.inbound(&carrier, mo(3, &answers_tx)));
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(
            !third.is_finished(),
            "the third deliver_sm found room in a full queue"
        );
        assert!(answers.try_recv().is_err(), "answered before it was stored");

        let accounts = Arc::new(Accounts::new(&config.accounts));
        let writer = tokio::spawn(run(WriterParts {
            outcomes,
            events,
            config: Arc::clone(&config),
            accounts: Arc::clone(&accounts),
            store: Arc::clone(&store),
            group: Arc::new(GroupCommit::start(Arc::clone(&store), 64)),
            in_pool: Arc::new(InPool::new(16)),
            backlog: Arc::new(Backlog::new(std::iter::empty(), 10)),
            outbox_wake: super::super::wakes::Wakes::new(),
            webhook_wake: super::super::wakes::Wakes::new(),
            stats: Arc::new(Stats::default()),
            clock: Clock::system(),
            finish: CancellationToken::new(),
            opt_out: Arc::default(),
        }));
        third.await.expect("third deliver_sm queued");
        let mut statuses = Vec::new();
        for _ in 0..3 {
            let answer = tokio::time::timeout(Duration::from_secs(5), answers.recv())
                .await
                .expect("answered")
                .expect("answer");
            statuses.push((answer.sequence_number, answer.status));
        }
        statuses.sort_unstable_by_key(|(seq, _)| *seq);
        assert_eq!(
            statuses,
            vec![
                (1, CommandStatus::ESME_ROK),
                (2, CommandStatus::ESME_ROK),
                (3, CommandStatus::ESME_ROK)
            ]
        );
        // Stored before they were answered: three MO for a number no account owns.
        assert_eq!(store.outbox(UNROUTED_MO, 10).unwrap().len(), 3);
        drop(sink);
        tokio::time::timeout(Duration::from_secs(5), writer)
            .await
            .expect("the writer ends when its senders are gone")
            .unwrap();
    }

    fn test_parts(clock: Clock) -> (WriterParts, mpsc::Sender<Outcome>, mpsc::Sender<Event>) {
        let config = Arc::new(Config::demo());
        let store: Arc<dyn Store> = Arc::new(crate::store::memory::MemoryStore::new());
        let (outcomes_tx, outcomes) = mpsc::channel(8);
        let (events_tx, events) = mpsc::channel(8);
        let parts = WriterParts {
            outcomes,
            events,
            accounts: Arc::new(Accounts::new(&config.accounts)),
            config,
            group: Arc::new(GroupCommit::start(Arc::clone(&store), 64)),
            store,
            in_pool: Arc::new(InPool::new(16)),
            backlog: Arc::new(Backlog::new(std::iter::empty(), 10)),
            outbox_wake: super::super::wakes::Wakes::new(),
            webhook_wake: super::super::wakes::Wakes::new(),
            stats: Arc::new(Stats::default()),
            clock,
            finish: CancellationToken::new(),
            opt_out: Arc::default(),
        };
        (parts, outcomes_tx, events_tx)
    }

    fn deliver(deliver_sm: DeliverSm) -> Box<InboundRequest> {
        Box::new(InboundRequest {
            pdu: smppgate_protocol::pdu::Pdu::new(1, Body::DeliverSm(deliver_sm)),
            responder: None,
        })
    }

    /// A one-part message of the test account, accepted, no receipt asked.
    fn one_part(id: u64, parts: &WriterParts) -> MessageRecord {
        let mut record = crate::store::tests::message(
            id,
            &parts.config.accounts[0].system_id,
            1_767_225_600_000,
        );
        record.request = Vec::new();
        record.part_count = 1;
        record.parts.truncate(1);
        record.wants_receipt = false;
        record.route_taken = "all".into();
        record
    }

    /// Runs the writer until it ends by itself (its senders dropped), within 5 s.
    async fn run_to_end(parts: WriterParts) {
        tokio::time::timeout(Duration::from_secs(5), run(parts))
            .await
            .expect("the writer ends when its senders are gone");
    }

    /// Part 0 of `id` accepted by carrier "sim" at the first attempt.
    fn accepted_by_sim(id: u64, message_id: &'static str, notified: bool) -> Outcome {
        Outcome {
            id,
            part: 0,
            carrier: Arc::from("sim"),
            result: OutcomeResult::Accepted {
                message_id: Bytes::from_static(message_id.as_bytes()),
                notified,
            },
            attempts: 1,
            failovers: 0,
        }
    }

    fn pushed_to(ops: &[Op], account: &str) -> usize {
        ops.iter()
            .filter(|op| matches!(op, Op::OutboxPush(item) if item.account == account))
            .count()
    }

    /// An outcome that comes in the same batch as its message's hand-over from intake
    /// finds the record handed over, nothing is read for it: here the store does not have
    /// the record at all, so a read would find nothing and the outcome would be lost.
    #[tokio::test]
    async fn an_outcome_in_the_batch_of_its_messages_hand_over_reads_nothing() {
        let (parts, outcomes, events) = test_parts(Clock::starting_at(1_767_225_600_000));
        let store = Arc::clone(&parts.store);
        let record = one_part(7, &parts);
        // Both queued before the writer runs: one batch.
        events
            .send(Event::Accepted(Arc::new(record)))
            .await
            .unwrap();
        outcomes
            .send(accepted_by_sim(7, "5f3a", true))
            .await
            .unwrap();
        drop((outcomes, events));
        run_to_end(parts).await;
        let written = store
            .get(7)
            .unwrap()
            .expect("the record, written with its outcome");
        assert_eq!(written.parts[0].carrier_id.as_deref(), Some("5f3a"));
        assert_eq!(written.parts[0].state, State::Sent);
    }

    /// A carrier's id goes into the store's index only for a part the carrier was asked
    /// to report on: nobody waits for a receipt of the other, and its index entry was
    /// half of what an accepted part wrote.
    #[tokio::test]
    async fn only_a_part_the_carrier_reports_on_is_indexed_in_the_store() {
        let (parts, outcomes, events) = test_parts(Clock::starting_at(1_767_225_600_000));
        let store = Arc::clone(&parts.store);
        for (id, message_id, notified) in [(7, "5f3a", false), (8, "6b4c", true)] {
            store
                .commit(&[Op::Insert(Arc::new(one_part(id, &parts)))])
                .unwrap();
            outcomes
                .send(accepted_by_sim(id, message_id, notified))
                .await
                .unwrap();
        }
        drop((outcomes, events));
        run_to_end(parts).await;
        let indexed = |message_id: &str| {
            normalise_id(message_id, IdStyle::Auto)
                .iter()
                .find_map(|key| store.by_carrier_id("sim", key.as_str()).unwrap())
        };
        assert_eq!(indexed("5f3a"), None);
        assert_eq!(indexed("6b4c"), Some((8, 0)));
        // Both outcomes are kept on the records all the same.
        for (id, message_id) in [(7, "5f3a"), (8, "6b4c")] {
            let written = store.get(id).unwrap().expect("the record");
            assert_eq!(written.parts[0].carrier_id.as_deref(), Some(message_id));
            assert_eq!(written.parts[0].state, State::Sent);
        }
    }

    /// A message of an account a reload removed still ends (expired here), without a
    /// receipt: before, its settling stopped at the missing account and it stayed
    /// pending for good, handed to the writer again by every expiry scan.
    #[tokio::test]
    async fn a_message_of_a_removed_account_still_ends() {
        let (parts, outcomes, events) = test_parts(Clock::starting_at(1_767_225_600_000));
        let store = Arc::clone(&parts.store);
        let mut record = one_part(9, &parts);
        record.account = "removed".into();
        record.wants_receipt = true;
        store.commit(&[Op::Insert(Arc::new(record))]).unwrap();
        events.send(Event::Expire(9)).await.unwrap();
        drop((outcomes, events));
        run_to_end(parts).await;
        let record = store.get(9).unwrap().unwrap();
        assert_eq!(record.state, State::Expired);
        assert!(store.outbox("removed", 10).unwrap().is_empty());
    }

    /// A batch whose read of the store fails (after its tries) does not lose an accepted
    /// part's outcome while letting the part leave the pool's set: the dispatcher would
    /// send it again in this run. The part keeps its place; the outcome is lost with the
    /// read, so the record stays `Accepted` and goes again after a restart (the store
    /// failed: as a failed commit).
    #[tokio::test(start_paused = true)]
    async fn a_failed_read_keeps_the_part_from_the_dispatcher() {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let (mut parts, outcomes, events) = test_parts(Clock::starting_at(1_767_225_600_000));
        let record = one_part(7, &parts);
        parts.store.commit(&[Op::Insert(Arc::new(record))]).unwrap();
        let flaky = Arc::new(crate::store::tests::FlakyStore {
            inner: Arc::clone(&parts.store),
            failing: AtomicBool::new(false),
            failing_reads: AtomicBool::new(true),
            commits: AtomicUsize::new(0),
        });
        parts.store = Arc::clone(&flaky) as Arc<dyn Store>;
        let in_pool = Arc::clone(&parts.in_pool);
        let key: PartKey = (7, 0);
        assert!(matches!(
            in_pool.insert(key),
            super::super::backlog::Taken::Now
        ));
        outcomes
            .send(accepted_by_sim(7, "5f3a", true))
            .await
            .unwrap();
        let writer = tokio::spawn(run(parts));
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(
            matches!(in_pool.insert(key), super::super::backlog::Taken::Already),
            "the part keeps its place"
        );
        flaky.failing_reads.store(false, Ordering::Release);
        drop((outcomes, events));
        writer.await.unwrap();
        assert_eq!(
            flaky.get(7).unwrap().unwrap().parts[0].state,
            State::Accepted
        );
    }

    /// A carrier's own stat code (MK:0001) is kept for the upstream receipt, with its last
    /// three digits as err:; SMPP state names and plain numbers are not such codes; an
    /// early receipt kept in the store keeps the code and its SMPP state.
    #[test]
    fn a_carriers_own_stat_code_is_carried_through() {
        assert_eq!(carrier_stat(Some("MK:0001")), Some(*b"MK:0001"));
        assert_eq!(carrier_stat(Some(" DB:0140 ")), Some(*b"DB:0140"));
        for not_a_code in ["DELIVRD", "undeliv", "0000000", "MK 0001", "MK:00001", ""] {
            assert_eq!(carrier_stat(Some(not_a_code)), None, "{not_a_code}");
        }
        assert_eq!(
            receipt_code(Some("MK:0001")),
            (Some("MK:0001".to_owned()), 1)
        );
        assert_eq!(receipt_code(Some("021")), (None, 21));
        assert_eq!(receipt_code(None), (None, 0));
        let mut builder = ReceiptBuilder::new("42", MessageState::Undeliverable);
        builder.stat_text = Some("MK:0001".to_owned());
        builder.err = 1;
        assert!(builder.format_text().contains(" stat:MK:0001 err:001 "));
        let receipt = PartReceipt {
            state: State::Failed,
            err: 1,
            stat: Some(*b"MK:0001"),
        };
        let item = kept_receipt(EARLY, "cmcc", "42", &[], receipt, 0).expect("encodes");
        let pdu = smppgate_protocol::codec::decode(Bytes::from(item.deliver_sm)).expect("pdu");
        let Body::DeliverSm(kept) = pdu.body else {
            panic!("not a deliver_sm");
        };
        let text = smppgate_protocol::receipt::ReceiptText::parse(&kept.short_message);
        assert_eq!(text.state().and_then(state_of), Some(State::Failed));
        assert_eq!(carrier_stat(text.text.as_deref()), Some(*b"MK:0001"));
    }

    /// An early receipt waits `[receipts] early_ttl` for its submit_sm_resp (time from
    /// the injected clock, advanced by hand), then is kept as unmatched.
    #[tokio::test(start_paused = true)]
    async fn an_early_receipt_waits_its_ttl_then_is_kept_as_unmatched() {
        let (parts, _o, _e) = test_parts(Clock::starting_at(1_767_225_600_000));
        let ttl = parts.config.receipts.early_ttl;
        let mut writer = Writer::new(&parts);
        let receipt = DeliverSm {
            esm_class: EsmClass(0x04),
            short_message: Bytes::from_static(
                b"id:5f3a sub:001 dlvrd:001 submit date:2601010000 done date:2601010000 stat:DELIVRD err:000 text:",
            ),
            ..DeliverSm::default()
        };
        writer.apply(Event::Inbound(Arc::from("sim"), deliver(receipt)));
        assert_eq!(writer.early.held.len(), 1, "held, waiting for its response");
        assert_eq!(pushed_to(&writer.ops, EARLY), 1, "kept in the store too");
        writer.ops.clear();
        tokio::time::advance(ttl - Duration::from_secs(1)).await;
        writer.tick();
        assert_eq!(writer.early.held.len(), 1, "still inside its TTL");
        assert!(writer.ops.is_empty());
        tokio::time::advance(Duration::from_secs(2)).await;
        writer.tick();
        assert!(writer.early.held.is_empty());
        assert_eq!(pushed_to(&writer.ops, UNMATCHED), 1);
        assert_eq!(writer.stats.receipts_unmatched.load(Ordering::Relaxed), 1);
    }

    /// A carrier configured `hex` that answers decimal ids (hex in the receipt's TLV,
    /// decimal in its text): a receipt that comes before its submit_sm_resp is held under
    /// every reading of its id, so the response, whose id only the text's reading
    /// matches, still finds it; once matched none of its readings holds anything. The
    /// same after a restart: the kept receipt carries its other readings, and a fresh
    /// writer replaying it matches the response by one of them. Either way it is counted
    /// as a receipt matched on arrival is.
    #[test]
    fn an_early_receipt_is_found_by_any_reading_of_its_id() {
        let (mut parts, _o, _e) = test_parts(Clock::starting_at(1_767_225_600_000));
        let mut config = (*parts.config).clone();
        config.carriers[0].message_id_style = config::IdStyle::Hex;
        parts.config = Arc::new(config);
        let sim: Arc<str> = Arc::from(parts.config.carriers[0].name.as_str());
        let record = Arc::new(one_part(7, &parts));
        let response = || Outcome {
            id: 7,
            part: 0,
            carrier: Arc::clone(&sim),
            result: OutcomeResult::Accepted {
                message_id: Bytes::from_static(b"12345"),
                notified: true,
            },
            attempts: 1,
            failovers: 0,
        };
        // `stats` is shared by both writers (one `parts`). Counted as every match is:
        // by the text's reading (an alternate), in the delivery rate per carrier
        // (`smppgate_receipts_matched_total{reading="alternate", stat="UNDELIV"}`).
        let matched = |writer: &mut Writer, so_far: u64| {
            assert_eq!(
                writer.stats.receipts_matched.load(Ordering::Relaxed),
                so_far
            );
            assert_eq!(
                writer
                    .stats
                    .receipts_matched_alternate
                    .load(Ordering::Relaxed),
                so_far
            );
            assert!(
                writer
                    .matched_counters
                    .contains_key(&(Arc::clone(&sim), false, "UNDELIV")),
                "{:?}",
                writer.matched_counters.keys().collect::<Vec<_>>()
            );
            let record = writer.record(7).expect("in the batch");
            assert_eq!(record.parts[0].state, State::Failed, "the receipt applied");
            assert!(writer.early.held.is_empty(), "{:?}", writer.early);
            assert!(writer.early.aliases.is_empty(), "{:?}", writer.early);
            assert!(writer.early.recheck.is_empty(), "{:?}", writer.early);
        };
        let mut writer = Writer::new(&parts);
        writer.apply(Event::Accepted(Arc::clone(&record)));
        let mut receipt = DeliverSm {
            esm_class: EsmClass(0x04),
            short_message: Bytes::from_static(
                b"id:12345 sub:001 dlvrd:001 submit date:2601010000 done date:2601010000 stat:UNDELIV err:001 text:",
            ),
            ..DeliverSm::default()
        };
        receipt.tlvs = smppgate_protocol::tlv::Tlvs::builder()
            .push(smppgate_protocol::tlv::Tlv::ReceiptedMessageId(
                Bytes::from_static(b"3039"),
            ))
            .build()
            .unwrap();
        writer.apply(Event::Inbound(Arc::clone(&sim), deliver(receipt)));
        assert_eq!(writer.early.held.len(), 1, "held, waiting for its response");
        assert!(!writer.early.aliases.is_empty(), "{:?}", writer.early);
        // What a restart finds: the receipt as kept in the store.
        let kept: Vec<Op> = writer
            .ops
            .iter()
            .filter(|op| matches!(op, Op::OutboxPush(item) if item.account == EARLY))
            .cloned()
            .collect();
        assert_eq!(kept.len(), 1);
        parts.store.commit(&kept).unwrap();
        writer.outcome(response());
        matched(&mut writer, 1);

        let mut restarted = Writer::new(&parts);
        restarted.apply(Event::Accepted(record));
        let replayed = kept_early(&*parts.store, EARLY).unwrap();
        assert_eq!(replayed.len(), 1);
        for event in replayed {
            restarted.apply(event);
        }
        assert_eq!(
            restarted.early.held.len(),
            1,
            "held again after the restart"
        );
        restarted.outcome(response());
        matched(&mut restarted, 2);
    }

    /// A second early receipt for the same id replaces the first and keeps a recheck time
    /// (with several nodes its response may be recorded by another node, which sends this
    /// one no event); taking it by an alias leaves nothing behind.
    #[test]
    fn a_replaced_early_receipt_keeps_its_recheck_time() {
        let carrier: Arc<str> = Arc::from("sim");
        let key = (Arc::clone(&carrier), "3039".to_owned());
        let receipt = PartReceipt {
            state: State::Delivered,
            err: 0,
            stat: None,
        };
        let mut early = EarlyReceipts::default();
        early.hold(key.clone(), 10, Some(5), receipt, vec!["12345".into()]);
        early.hold(key.clone(), 20, Some(6), receipt, vec!["12345".into()]);
        assert_eq!(early.recheck.get(&key), Some(&6), "{early:?}");
        assert_eq!(early.held.len(), 1);
        assert!(
            early
                .take(&carrier, "12345")
                .is_some_and(|(_, alias)| alias),
            "by its alias"
        );
        assert!(early.held.is_empty() && early.aliases.is_empty() && early.recheck.is_empty());
    }

    /// The recent carrier ids are bounded by generations: past the bound, the last
    /// [`RECENT_IDS`] written are all still found (no cliff where everything is dropped
    /// at once), and none older than two generations is kept.
    #[test]
    fn recent_carrier_ids_keep_the_last_generation_whole() {
        let carrier: Arc<str> = Arc::from("sim");
        let mut ids = RecentIds::default();
        let total = RECENT_IDS * 2 + RECENT_IDS / 2;
        for n in 0..total {
            ids.insert(&carrier, n.to_string(), (n as u64, 0));
            ids.bound();
        }
        for n in total - RECENT_IDS..total {
            assert_eq!(ids.get("sim", &n.to_string()), Some((n as u64, 0)), "{n}");
        }
        assert_eq!(ids.get("sim", "0"), None, "two generations old");
        assert_eq!(ids.get("sim", &(RECENT_IDS - 1).to_string()), None);
        assert_eq!(ids.get("other", &(total - 1).to_string()), None);
        assert!(ids.newest.len() + ids.older.len() <= 2 * RECENT_IDS);
    }

    /// A two-part MO whose second part never comes goes out incomplete once
    /// `[receipts] mo_reassembly_ttl` has passed on the injected clock, not before.
    #[tokio::test(start_paused = true)]
    async fn a_multipart_mo_goes_out_incomplete_after_its_ttl_and_not_before() {
        let (parts, _o, _e) = test_parts(Clock::starting_at(1_767_225_600_000));
        let ttl = parts.config.receipts.mo_reassembly_ttl;
        let mut writer = Writer::new(&parts);
        let mut payload = vec![0x05, 0x00, 0x03, 0x2a, 0x02, 0x01];
        payload.extend_from_slice(b"first half ");
        let part = DeliverSm {
            source_addr: smppgate_protocol::types::Address::international("8613800138000"),
            destination_addr: smppgate_protocol::types::Address::international("99999"),
            esm_class: EsmClass(0x40),
            short_message: Bytes::from(payload),
            ..DeliverSm::default()
        };
        writer.apply(Event::Inbound(Arc::from("sim"), deliver(part)));
        // It waits for its other part, kept in the store meanwhile.
        assert_eq!(pushed_to(&writer.ops, PARTIAL), 1, "kept");
        assert_eq!(writer.ops.len(), 1);
        tokio::time::advance(ttl - Duration::from_secs(1)).await;
        writer.tick();
        assert_eq!(writer.ops.len(), 1, "still inside the TTL");
        tokio::time::advance(Duration::from_secs(2)).await;
        writer.tick();
        assert_eq!(
            pushed_to(&writer.ops, UNROUTED_MO),
            1,
            "delivered incomplete"
        );
        assert_eq!(pushed_to(&writer.ops, PARTIAL), 2, "and marked delivered");
    }
}
