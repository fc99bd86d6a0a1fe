//! Intake: where every message enters, whatever it came by (SMPP today, HTTP next).
//!
//! ```text
//! check (account TPS, sender, destination → route, split, class)
//!   → policy hook (accept / reject / defer)
//!   → a place in the account's durable backlog (`[store] max_pending`)
//!   → our id → group commit (fsync) → the caller answers
//!   → dispatcher (bounded; when full the message is already on disk and the
//!     dispatcher is told to read it from there)
//! ```
//!
//! [`Intake::check`] is synchronous so refusals are answered at once;
//! [`Intake::persist`] is the awaited part. Nothing here waits on the carriers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::SubmitSm;
use tokio::sync::{Notify, mpsc};

use super::accounts::{Account, Accounts};
use super::assembly::Waiting;
use super::backlog::Backlog;
use super::ids::MessageIds;
use super::policy::{CapClaim, Decision, Policy, PolicyRequest};
use super::stats::{Stats, bump, store_error};
use super::writer::Event;
use crate::carrier::Router;
use crate::clock::Clock;
use crate::config::Class;
use crate::policy::segments::{PartOf, Settled};
use crate::store::{GroupCommit, MessageRecord, Op, PartRecord, State};

/// A message for the dispatcher: accepted, durable, split.
#[derive(Debug)]
pub(crate) struct Dispatch {
    pub(crate) id: u64,
    pub(crate) class: Class,
    pub(crate) route: Arc<str>,
    pub(crate) parts: Vec<SubmitSm>,
    pub(crate) not_before: u64,
    /// Not sent from then on (see [`MessageRecord::expires`]).
    pub(crate) expires: u64,
}

/// Messages intake could not hand to the dispatcher (its queue was full): the lowest id
/// per (route, class), for the dispatcher to read from the store.
#[derive(Debug, Default)]
pub(crate) struct Missed {
    lowest: Mutex<HashMap<(Arc<str>, Class), u64>>,
    pub(crate) notify: Notify,
}

impl Missed {
    pub(crate) fn add(&self, route: &Arc<str>, class: Class, id: u64) {
        let mut lowest = self.lowest.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = lowest.entry((Arc::clone(route), class)).or_insert(id);
        *entry = (*entry).min(id);
        drop(lowest);
        self.notify.notify_one();
    }

    /// Takes what was missed since the last call.
    pub(crate) fn take(&self) -> HashMap<(Arc<str>, Class), u64> {
        std::mem::take(&mut *self.lowest.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// A message that passed the checks, not yet persisted.
#[derive(Debug)]
pub(crate) struct Checked {
    record: MessageRecord,
    route: Arc<str>,
    parts: Vec<SubmitSm>,
    account: Arc<Account>,
    /// A part of a client-segmented message stored awaiting the rest of it.
    part_of: Option<PartOf>,
    /// Its place in the cluster's shared cap counters, taken before it is stored.
    cap: Option<CapClaim>,
}

/// A checked message whose places are taken (shared caps, durable backlog), to be
/// written: [`Intake::persist`] and [`Intake::persist_with`].
pub(crate) struct Reserved {
    record: Arc<MessageRecord>,
    route: Arc<str>,
    parts: Vec<SubmitSm>,
    account: Arc<Account>,
    part_of: Option<PartOf>,
    place: Place,
}

impl Reserved {
    /// Its insert (the record is shared with the writer, not copied).
    fn insert(&self) -> Op {
        Op::Insert(Arc::clone(&self.record))
    }
}

/// A message's place in its account's durable backlog, given back when dropped unless
/// kept (the message was stored: the writer gives it back when the message has left).
/// A caller cancelled between the reservation and the commit (a client gone) so leaks
/// no place.
struct Place {
    backlog: Arc<Backlog>,
    account: Arc<Account>,
    kept: bool,
}

impl Place {
    fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        if !self.kept {
            self.backlog.release(&self.account.name);
        }
    }
}

/// Reserved messages whose commit may be under way. The caller's future (an SMPP
/// connection's answer, an HTTP handler) is dropped when its client goes; dropped
/// once the commit was handed over, this finishes in a task of its own what the caller
/// would have: a stored message is handed to the dispatcher (never left unsent until a
/// restart), one not stored gives its place back. Only then, one task per message a
/// cancelled caller left half way: never for a queue that is full.
struct Landing {
    intake: Arc<Intake>,
    reserved: Vec<Reserved>,
    submitted: Option<crate::store::Submitted>,
}

impl Landing {
    /// Commits `ops` (the reserved messages' inserts and what goes with them).
    async fn commit(&mut self, ops: Vec<Op>) -> Result<(), crate::store::StoreError> {
        let submitted = self
            .submitted
            .insert(self.intake.parts.group.submit(ops).await?);
        let written = submitted.wait().await;
        self.submitted = None;
        written
    }

    /// The reserved messages, for the caller to finish (nothing left for the drop).
    fn take(mut self) -> Vec<Reserved> {
        std::mem::take(&mut self.reserved)
    }
}

impl Drop for Landing {
    fn drop(&mut self) {
        let (Some(mut submitted), false) = (self.submitted.take(), self.reserved.is_empty()) else {
            return; // nothing handed over: the places go back with the reservations
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return; // the runtime is stopping: a restart reads what was stored
        };
        let intake = Arc::clone(&self.intake);
        let reserved = std::mem::take(&mut self.reserved);
        tracing::debug!(
            messages = reserved.len(),
            "caller gone during its commit: finished aside"
        );
        runtime.spawn(async move {
            match submitted.wait().await {
                Ok(()) => {
                    for one in reserved {
                        intake.committed(one).await;
                    }
                }
                Err(error) => {
                    for one in reserved {
                        let _ = intake.not_committed(one, &error);
                    }
                }
            }
        });
    }
}

impl Checked {
    /// How many parts it goes as.
    pub(crate) fn part_count(&self) -> usize {
        self.parts.len()
    }

    /// The client's own reference, kept with the message and handed back in its webhook
    /// receipt events (HTTP `client_ref`).
    pub(crate) fn set_client_ref(&mut self, client_ref: Option<String>) {
        self.record.client_ref = client_ref;
    }
}

/// Why a message was refused, for the caller's answer and the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) status: CommandStatus,
    /// The policy rule that refused it, if a rule did.
    pub(crate) rule: Option<String>,
    /// The route the message would have taken, when it got that far (the delivery
    /// statistics count refusals by rule per route).
    pub(crate) route: Option<Arc<str>>,
}

impl From<CommandStatus> for Refusal {
    fn from(status: CommandStatus) -> Self {
        Self {
            status,
            rule: None,
            route: None,
        }
    }
}

/// What intake needs, handed over by [`super::Gateway::start`].
pub(crate) struct IntakeParts {
    pub(crate) accounts: Arc<Accounts>,
    pub(crate) router: Router,
    pub(crate) default_country: String,
    pub(crate) ids: Arc<MessageIds>,
    pub(crate) group: Arc<GroupCommit>,
    pub(crate) policy: Arc<dyn Policy>,
    pub(crate) backlog: Arc<Backlog>,
    pub(crate) dispatch: mpsc::Sender<Dispatch>,
    pub(crate) missed: Arc<Missed>,
    pub(crate) writer: mpsc::Sender<Event>,
    /// Client-segmented messages being received (`gateway/assembly.rs`).
    pub(crate) waiting: Arc<Waiting>,
    pub(crate) stats: Arc<Stats>,
    pub(crate) clock: Clock,
    /// The store's `validity` in ms (a message's default validity).
    pub(crate) validity: u64,
    /// With `[cluster]`: the frequency-cap counters every node shares.
    pub(crate) shared_caps: Option<Arc<crate::store::SharedCaps>>,
}

/// The intake stage.
pub(crate) struct Intake {
    parts: IntakeParts,
}

impl std::fmt::Debug for Intake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intake").finish_non_exhaustive()
    }
}

impl Intake {
    pub(crate) fn new(parts: IntakeParts) -> Self {
        Self { parts }
    }

    pub(crate) fn accounts(&self) -> &Arc<Accounts> {
        &self.parts.accounts
    }

    /// Counts and logs a refusal; returns it for the answer.
    pub(crate) fn refuse(&self, account: &Account, refusal: Refusal) -> Refusal {
        bump(&self.parts.stats.rejected);
        metrics::counter!(
            "smppgate_upstream_rejected_total",
            "account" => account.name.to_string(),
            "status" => refusal.status.name().unwrap_or("other")
        )
        .increment(1);
        if let Some(rule) = &refusal.rule {
            let now = self.parts.clock.wall_ms();
            self.parts.stats.delivery.rejected(
                now,
                &account.name,
                refusal.route.as_deref().unwrap_or(""),
                rule,
            );
            metrics::counter!(
                "smppgate_policy_rejected_total",
                "account" => account.name.to_string(),
                "rule" => rule.clone()
            )
            .increment(1);
        }
        refusal
    }

    /// Every check of a message that does not need the store.
    ///
    /// # Errors
    /// The refusal to answer (already counted).
    pub(crate) fn check(
        &self,
        account: &Arc<Account>,
        submit_sm: &SubmitSm,
    ) -> Result<Checked, Refusal> {
        self.check_inner(account, submit_sm)
            .map_err(|refusal| self.refuse(account, refusal))
    }

    fn check_inner(
        &self,
        account: &Arc<Account>,
        submit_sm: &SubmitSm,
    ) -> Result<Checked, Refusal> {
        let p = &self.parts;
        if !account.take_token() {
            return Err(CommandStatus::ESME_RTHROTTLED.into());
        }
        if !account.sender_allowed(&submit_sm.source_addr.addr) {
            return Err(CommandStatus::ESME_RINVSRCADR.into());
        }
        if p.backlog.is_full(&account.name) {
            // Before the policy: its frequency caps count what passes. Not a warning per
            // message (a client retrying through an outage would flood the log): counted
            // in smppgate_upstream_rejected_total{status="ESME_RMSGQFUL"}.
            tracing::debug!(account = %account.name, "durable backlog full: ESME_RMSGQFUL");
            return Err(CommandStatus::ESME_RMSGQFUL.into());
        }
        let destination = String::from_utf8_lossy(&submit_sm.destination_addr.addr);
        // Not a number, or no route takes it.
        let e164 = crate::numbers::normalise(&destination, &p.default_country)
            .map_err(|_| CommandStatus::ESME_RINVDSTADR)?;
        let route = p
            .router
            .route(account.config.route.as_deref(), &e164)
            .ok_or(CommandStatus::ESME_RINVDSTADR)?;
        let class = Class::parse(&String::from_utf8_lossy(&submit_sm.service_type))
            .unwrap_or(account.config.class);
        // What is split, checked, stored and sent: the message as the policy rewrites it.
        let rewritten = p.policy.rewrite(account, class, submit_sm);
        let submit_sm = rewritten.as_ref().unwrap_or(submit_sm);
        let id = p.ids.next();
        let parts = super::pipeline::parts(submit_sm, &mut references_for(id))?;
        let now = p.clock.wall_ms();
        // schedule_delivery_time and validity_period: refused before the policy counts it.
        let times = super::schedule::times(submit_sm, now, p.validity)?;
        let mut refused_by_receipt = None;
        let mut held = None;
        let mut deferred_by = None;
        let policy_request = PolicyRequest {
            account,
            class,
            destination: &e164,
            submit_sm,
            parts: parts.len(),
            now,
        };
        let decision = p.policy.check(&policy_request);
        // A part of a client-segmented message its policy judges whole: it waits for the
        // rest when it passed; when it did not, the rest ends as it did.
        let mut part_of = p.policy.part_of(&policy_request);
        let settled = match &decision {
            Decision::Accept | Decision::Defer { .. } => None,
            Decision::Reject { status, rule } | Decision::RejectByReceipt { status, rule } => {
                Some(Settled::Refused {
                    status: status.0,
                    rule: rule.clone(),
                })
            }
            Decision::Hold { word, .. } => Some(Settled::Held { word: word.clone() }),
        };
        if let Some(settled) = settled {
            if let Some(part) = part_of.take() {
                p.waiting.parts.settle(&part.key, class, settled, now);
                p.waiting.wake.notify_one();
            }
        }
        let mut cap = None;
        let not_before = match decision {
            Decision::Accept => {
                cap = p.policy.cap_claim(&policy_request);
                0
            }
            Decision::Reject { status, rule } => {
                tracing::info!(account = %account.name, %rule, status = %status, "refused by policy");
                return Err(Refusal {
                    status,
                    rule: Some(rule),
                    route: Some(Arc::clone(&route)),
                });
            }
            Decision::Defer { until, rule } => {
                cap = p.policy.cap_claim(&policy_request);
                tracing::debug!(id, %rule, until, "deferred by policy");
                deferred_by = Some(rule);
                until
            }
            Decision::Hold { rule, word, until } => {
                cap = p.policy.cap_claim(&policy_request);
                tracing::info!(account = %account.name, id, %rule, %word, "held for review");
                held = Some(word);
                until
            }
            Decision::RejectByReceipt { status, rule } => {
                tracing::info!(account = %account.name, id, %rule, status = %status, "refused by policy, answered by receipt");
                refused_by_receipt = Some(status);
                0
            }
        };
        let request = request_bytes(submit_sm).ok_or(CommandStatus::ESME_RSYSERR)?;
        let mut record = MessageRecord {
            id,
            account: account.name.to_string(),
            accepted: now,
            class,
            route: account.config.route.clone(),
            request,
            part_count: u16::try_from(parts.len()).unwrap_or(u16::MAX),
            wants_receipt: submit_sm.registered_delivery.wants_receipt(),
            state: State::Accepted,
            parts: vec![
                PartRecord {
                    updated: now,
                    ..PartRecord::default()
                };
                parts.len()
            ],
            not_before: not_before.max(times.not_before),
            expires: times.expires,
            route_taken: route.to_string(),
            client_ref: None,
            // Who set `not_before`: the policy rule, or the client's own schedule when
            // that is the later of the two.
            deferred_by: if times.not_before > not_before {
                Some("schedule_delivery_time".to_owned())
            } else {
                deferred_by
            },
        };
        if let Some(word) = held {
            super::review::hold(&mut record, &word);
        } else if part_of.is_some() {
            super::review::await_parts(&mut record);
        }
        if let Some(status) = refused_by_receipt {
            refuse_by_receipt(&mut record, status);
        }
        Ok(Checked {
            record,
            route,
            parts,
            account: Arc::clone(account),
            part_of,
            cap,
        })
    }

    /// Makes a checked message durable, then hands it to the dispatcher. Returns its id
    /// once it is durable (the caller answers then).
    ///
    /// # Errors
    /// `ESME_RMSGQFUL` past the account's durable backlog limit; `ESME_RSYSERR` when the
    /// store failed: nothing was acknowledged. Counted.
    pub(crate) async fn persist(self: &Arc<Self>, checked: Checked) -> Result<u64, Refusal> {
        let reserved = self.reserve(checked).await?;
        let ops = vec![reserved.insert()];
        let mut landing = Landing {
            intake: Arc::clone(self),
            reserved: vec![reserved],
            submitted: None,
        };
        let written = landing.commit(ops).await;
        let Some(reserved) = landing.take().pop() else {
            unreachable!("one reserved message");
        };
        match written {
            Ok(()) => Ok(self.committed(reserved).await),
            Err(error) => Err(self.not_committed(reserved, &error)),
        }
    }

    /// [`Intake::persist`] for several messages and the ops `more` adds, written in one
    /// commit (all or none: the HTTP API's stored idempotent answer goes in the same
    /// commit as the messages it answers). `more` is given each message's id or refusal
    /// before the commit and returns its ops and what it made of them (the answer).
    /// Returns each message's id or refusal, in order, `more`'s value, and whether the
    /// commit held (`false`: nothing was stored; a refusal of one message, even
    /// `ESME_RSYSERR` from the cluster's shared caps, leaves the others stored).
    pub(crate) async fn persist_with<T>(
        self: &Arc<Self>,
        checked: Vec<Checked>,
        more: impl FnOnce(&[Result<u64, &Refusal>]) -> (Vec<Op>, T),
    ) -> (Vec<Result<u64, Refusal>>, T, bool) {
        // One message (the common HTTP request) is awaited as it is, without join_all's set.
        let reserved: Vec<Result<Reserved, Refusal>> = if checked.len() == 1 {
            let mut reserved = Vec::with_capacity(1);
            for one in checked {
                reserved.push(self.reserve(one).await);
            }
            reserved
        } else {
            futures::future::join_all(checked.into_iter().map(|one| self.reserve(one))).await
        };
        let ids: Vec<Result<u64, &Refusal>> = reserved
            .iter()
            .map(|one| one.as_ref().map(|r| r.record.id))
            .collect();
        let (mut ops, made) = more(&ids);
        let count = ids.len();
        ops.extend(reserved.iter().flatten().map(Reserved::insert));
        // Each message's place in the answer: its refusal, or the next of the reserved.
        let mut order: Vec<Option<Refusal>> = Vec::with_capacity(count);
        let mut kept = Vec::with_capacity(count);
        for one in reserved {
            match one {
                Ok(one) => {
                    kept.push(one);
                    order.push(None);
                }
                Err(refusal) => order.push(Some(refusal)),
            }
        }
        let mut landing = Landing {
            intake: Arc::clone(self),
            reserved: kept,
            submitted: None,
        };
        let written = if ops.is_empty() {
            Ok(())
        } else {
            landing.commit(ops).await
        };
        let mut landed = landing.take().into_iter();
        let mut results = Vec::with_capacity(count);
        for refused in order {
            if let Some(refusal) = refused {
                results.push(Err(refusal));
                continue;
            }
            let Some(reserved) = landed.next() else {
                continue; // one per reserved message: never
            };
            results.push(match &written {
                Ok(()) => Ok(self.committed(reserved).await),
                Err(error) => Err(self.not_committed(reserved, error)),
            });
        }
        let stored = written.is_ok();
        (results, made, stored)
    }

    /// Takes a checked message's places before it is written: its count in the cluster's
    /// shared caps, its place in the account's durable backlog.
    async fn reserve(&self, checked: Checked) -> Result<Reserved, Refusal> {
        let p = &self.parts;
        let Checked {
            mut record,
            route,
            parts,
            account,
            mut part_of,
            cap,
        } = checked;
        // The backlog's place first: a message refused for a full backlog must not have
        // taken a place in the shared caps (it would count against the client's retry).
        if !p.backlog.reserve(&account.name) {
            tracing::warn!(account = %account.name, "durable backlog full: ESME_RMSGQFUL");
            return Err(self.refuse(&account, CommandStatus::ESME_RMSGQFUL.into()));
        }
        // Given back if anything below refuses.
        let place = Place {
            backlog: Arc::clone(&p.backlog),
            account: Arc::clone(&account),
            kept: false,
        };
        if let (Some(claim), Some(shared)) = (cap, &p.shared_caps) {
            // Counted on every node's count before it is stored: a refusal here is
            // answered like the policy's own (`reject_with`: a status, or a receipt).
            // Boxed: the cluster's claim is a large future, and inline it would make every
            // submit's future (boxed per submit_sm by the SMPP server) that much larger,
            // on a single node too.
            match Box::pin(claim.take(shared)).await {
                Ok(None) => {}
                Ok(Some(Decision::RejectByReceipt { status, rule })) => {
                    tracing::info!(account = %account.name, id = record.id, %rule, status = %status, "refused by policy, answered by receipt");
                    if let Some(part) = part_of.take() {
                        // The rest of a client-segmented message ends as this part did.
                        let now = p.clock.wall_ms();
                        let settled = Settled::Refused {
                            status: status.0,
                            rule,
                        };
                        p.waiting
                            .parts
                            .settle(&part.key, record.class, settled, now);
                        p.waiting.wake.notify_one();
                    }
                    // Not held, not awaiting its parts (the policy's check put it there
                    // before the cap was counted): final, settled into its receipt.
                    record.state = State::Accepted;
                    refuse_by_receipt(&mut record, status);
                }
                Ok(Some(Decision::Reject { status, rule })) => {
                    return Err(self.refuse(
                        &account,
                        Refusal {
                            status,
                            rule: Some(rule),
                            route: Some(route),
                        },
                    ));
                }
                Ok(Some(other)) => {
                    // `CapClaim::take` refuses or counts; nothing else.
                    tracing::error!(?other, "shared caps answered neither a count nor a refusal");
                    return Err(self.refuse(&account, CommandStatus::ESME_RSYSERR.into()));
                }
                Err(error) => {
                    store_error(&p.stats, "shared caps", &error);
                    return Err(self.refuse(&account, CommandStatus::ESME_RSYSERR.into()));
                }
            }
        }
        Ok(Reserved {
            record: Arc::new(record),
            route,
            parts,
            place,
            account,
            part_of,
        })
    }

    /// A reserved message whose commit failed: its backlog place is given back; the
    /// refusal to answer (nothing was acknowledged).
    fn not_committed(&self, reserved: Reserved, error: &crate::store::StoreError) -> Refusal {
        let p = &self.parts;
        // Its place goes back with it.
        store_error(&p.stats, "accept", error);
        self.refuse(&reserved.account, CommandStatus::ESME_RSYSERR.into())
    }

    /// A reserved message now durable: counted, handed to the writer, then to the
    /// dispatcher (or left to wait for its other parts, or for review). Its id.
    async fn committed(&self, reserved: Reserved) -> u64 {
        let p = &self.parts;
        let Reserved {
            record,
            route,
            parts,
            account,
            part_of,
            place,
        } = reserved;
        // The message holds it now; the writer gives it back when the message has left.
        place.keep();
        let id = record.id;
        let class = record.class;
        let not_before = record.not_before;
        let expires = record.expires;
        bump(&p.stats.accepted);
        account.accepted_counter.increment(1);
        tracing::debug!(id, parts = parts.len(), %route, "accepted");
        let held = record.state == State::Held;
        let refused = record
            .parts
            .iter()
            .any(|part| part.state == State::Rejected);
        // The writer caches the record instead of reading it back when the outcomes come;
        // a full queue only costs it a store read.
        let _ = p.writer.try_send(Event::Accepted(record));
        if let Some(part) = part_of {
            // Durable, acknowledged, not sent: it waits for the rest of its message
            // (`gateway/assembly.rs`).
            if p.waiting.parts.arrived(part, id, class, p.clock.wall_ms()) {
                p.waiting.wake.notify_one();
            }
            return id;
        }
        if held {
            // Durable and counted against the backlog; sent when an operator releases it.
            metrics::gauge!("smppgate_review_held").increment(1.0);
            return id;
        }
        if refused {
            // Refused by receipt: nothing to send; the writer settles it into its receipt
            // (and gives the backlog place back). Not awaited (the caller may be gone, and
            // a settle dropped with it waited for a restart): on a full queue the
            // dispatcher's next read of the route finds it, every part ended, and hands
            // it to the writer then.
            if let Err(mpsc::error::TrySendError::Full(_)) = p.writer.try_send(Event::Settle(id)) {
                p.missed.add(&route, class, id);
            }
            return id;
        }
        let dispatch = Dispatch {
            id,
            class,
            route,
            parts,
            not_before,
            expires,
        };
        if let Err(mpsc::error::TrySendError::Full(dispatch)) = p.dispatch.try_send(dispatch) {
            // Durable already: the dispatcher reads it from the store.
            p.missed.add(&dispatch.route, dispatch.class, dispatch.id);
        }
        id
    }
}

/// Makes `record` final before it is stored, refused by a market rule answered by
/// receipt (`reject_with = "receipt"`): never dispatched; the writer settles it into a
/// REJECTD receipt whose `err:` is the rule's code (0x403 → `403`).
fn refuse_by_receipt(record: &mut MessageRecord, status: CommandStatus) {
    for part in &mut record.parts {
        part.state = State::Rejected;
        part.status = status.0;
        part.error = Some(format!("{:03x}", status.0 & 0xFFF));
    }
}

/// The concatenation references of a message's parts, derived from its id: the same
/// every time it is split, so parts re-sent after a restart still join their siblings.
pub(crate) fn references_for(id: u64) -> smppgate_protocol::text::ReferenceGenerator {
    smppgate_protocol::text::ReferenceGenerator::new(u16::try_from(id % 65_536).unwrap_or(0))
}

/// The bytes a record keeps of its upstream request (re-split after a restart): encoded
/// once into a buffer of the exact size, which the record then owns (no second copy).
fn request_bytes(submit_sm: &SubmitSm) -> Option<Vec<u8>> {
    let pdu = smppgate_protocol::pdu::Pdu::new(
        1,
        smppgate_protocol::pdu::Body::SubmitSm(submit_sm.clone()),
    );
    let mut buf = bytes::BytesMut::new();
    smppgate_protocol::codec::encode(&pdu, &mut buf).ok()?;
    Some(Vec::from(buf))
}
