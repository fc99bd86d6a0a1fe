//! The SMPP side of intake: [`Upstream`] is the listener's [`SmscHandler`] — bind checks
//! (password, IP allow-list, lockout, bind limit), the connection's window, then
//! [`Intake`] for everything about the message itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use dashmap::DashMap;
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{DataSm, Pdu, QuerySm, QuerySmResp, SubmitSm};
use smppgate_protocol::session::{CloseReason, SessionStats};
use smppgate_protocol::types::SmppTime;

use super::accounts::{Account, BindRefusal, Lockout, refusal};
use super::ids::{IdText, parse_id};
use super::intake::Intake;
use super::stats::{Stats, store_error};
use crate::config::WindowFullStatus;
use crate::smsc::{BindRequest, MessageId, Reply, SessionHandle, SessionInfo, SmscHandler};
use crate::store::{State, Store};

/// Releases a window slot when the request is answered, however it ends.
struct Slot(Arc<AtomicU64>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A bound upstream connection, as it bound.
pub(crate) struct Bound {
    /// Requests being processed (its window in use).
    in_use: Arc<AtomicU64>,
    /// The account's `window` when it bound: a reload changes the window of the binds
    /// made after it, a session keeps the one it bound with.
    limit: u64,
    /// The account version it bound as: its bind is released from that count even when
    /// a reload changed or removed the account meanwhile.
    account: Arc<Account>,
}

/// The SMPP listener's handler.
pub(crate) struct Upstream {
    pub(crate) intake: Arc<Intake>,
    pub(crate) lockout: Lockout,
    /// Each bound upstream connection: its window and the account it bound as.
    pub(crate) windows: DashMap<u64, Bound>,
    /// Wakes the outbox when a receiver binds.
    pub(crate) outbox_wake: Arc<super::wakes::Wakes>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) stats: Arc<Stats>,
}

impl Upstream {
    fn refuse_bind(&self, request: &BindRequest, reason: BindRefusal) -> CommandStatus {
        let ip = request.peer_addr.ip();
        let system_id = String::from_utf8_lossy(&request.bind.system_id);
        if !matches!(reason, BindRefusal::TooManyBinds | BindRefusal::LockedOut)
            && self.lockout.fail(ip, Instant::now())
        {
            tracing::warn!(%ip, "too many failed binds: address locked out");
            metrics::counter!("smppgate_bind_lockouts_total").increment(1);
        }
        tracing::info!(%ip, %system_id, reason = reason.as_str(), "bind refused");
        metrics::counter!("smppgate_bind_refused_total", "reason" => reason.as_str()).increment(1);
        refusal(reason)
    }

    fn check_bind(&self, request: &BindRequest) -> Result<Arc<Account>, BindRefusal> {
        let ip = request.peer_addr.ip();
        if self.lockout.is_locked(ip, Instant::now()) {
            return Err(BindRefusal::LockedOut);
        }
        let account = self
            .intake
            .accounts()
            .get(&request.bind.system_id)
            .ok_or(BindRefusal::UnknownSystemId)?;
        if !account.ip_allowed(ip) {
            return Err(BindRefusal::IpNotAllowed);
        }
        let password = &request.bind.password;
        // Argon2 takes tens of milliseconds: keep it off the other connections' way.
        let ok = match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => {
                tokio::task::block_in_place(|| account.verify_password(password))
            }
            _ => account.verify_password(password),
        };
        if !ok {
            return Err(BindRefusal::BadPassword);
        }
        if !account.try_add_bind() {
            return Err(BindRefusal::TooManyBinds);
        }
        Ok(account)
    }

    /// The account in force for a bound session (a reload may have renewed it, its
    /// settings apply to the next message); `None` once a reload removed it.
    fn account_of(&self, session: &SessionInfo) -> Option<Arc<Account>> {
        self.intake.accounts().get(&session.system_id)
    }

    /// The connection's window, then intake: checks, persist, answer.
    fn accept(&self, session: &SessionInfo, submit_sm: &SubmitSm) -> Reply<MessageId> {
        let Some(account) = self.account_of(session) else {
            return Reply::Ready(Err(CommandStatus::ESME_RINVBNDSTS));
        };
        let Some((window, limit)) = self
            .windows
            .get(&session.connection_id)
            .map(|bound| (Arc::clone(&bound.in_use), bound.limit))
        else {
            return Reply::Ready(Err(CommandStatus::ESME_RINVBNDSTS));
        };
        if window.fetch_add(1, Ordering::AcqRel) >= limit {
            window.fetch_sub(1, Ordering::AcqRel);
            let status = match account.config.window_full_status {
                WindowFullStatus::MsgQFull => CommandStatus::ESME_RMSGQFUL,
                WindowFullStatus::Throttled => CommandStatus::ESME_RTHROTTLED,
            };
            return Reply::Ready(Err(self.intake.refuse(&account, status.into()).status));
        }
        let slot = Slot(window);
        let started = std::time::Instant::now();
        let checked = match self.intake.check(&account, submit_sm) {
            Ok(checked) => checked,
            Err(refusal) => return Reply::Ready(Err(refusal.status)),
        };
        let intake = Arc::clone(&self.intake);
        let style = account.config.id_style;
        let latency = account.submit_latency.clone();
        Reply::Later(Box::pin(async move {
            let _slot = slot;
            let answer = match intake.persist(checked).await {
                Ok(id) => Ok(Bytes::copy_from_slice(IdText::new(id, style).as_bytes())),
                Err(refusal) => Err(refusal.status),
            };
            latency.record(started.elapsed());
            answer
        }))
    }
}

/// data_sm as the submit_sm it amounts to (the text in message_payload).
fn data_sm_as_submit(data_sm: &DataSm) -> SubmitSm {
    SubmitSm {
        service_type: data_sm.service_type.clone(),
        source_addr: data_sm.source_addr.clone(),
        destination_addr: data_sm.destination_addr.clone(),
        esm_class: data_sm.esm_class,
        registered_delivery: data_sm.registered_delivery,
        data_coding: data_sm.data_coding,
        tlvs: data_sm.tlvs.clone(),
        ..SubmitSm::default()
    }
}

impl SmscHandler for Upstream {
    fn authenticate(&self, request: &BindRequest) -> Result<Bytes, CommandStatus> {
        match self.check_bind(request) {
            Ok(account) => {
                self.lockout.succeed(request.peer_addr.ip());
                self.windows.insert(
                    request.connection_id,
                    Bound {
                        in_use: Arc::new(AtomicU64::new(0)),
                        limit: account.config.window as u64,
                        account: Arc::clone(&account),
                    },
                );
                tracing::info!(account = %account.name, peer = %request.peer_addr, kind = ?request.kind, "bound");
                metrics::counter!("smppgate_binds_total", "account" => account.name.to_string())
                    .increment(1);
                Ok(Bytes::from_static(b"smppgate"))
            }
            Err(reason) => Err(self.refuse_bind(request, reason)),
        }
    }

    fn on_bound(&self, session: &SessionHandle) {
        if session.info().can_receive() {
            // By the account's name (the key its outbox task is woken under).
            if let Some(account) = self.account_of(session.info()) {
                self.outbox_wake.account(&account.name);
            }
        }
    }

    fn on_bind_abandoned(&self, session: &SessionInfo) {
        if let Some((_, bound)) = self.windows.remove(&session.connection_id) {
            bound.account.remove_bind();
        }
    }

    fn on_closed(&self, session: Option<&SessionInfo>, reason: CloseReason, _stats: &SessionStats) {
        if let Some(session) = session {
            tracing::info!(system_id = %String::from_utf8_lossy(&session.system_id), ?reason, "upstream session closed");
            self.on_bind_abandoned(session);
        }
    }

    fn submit_sm(
        &self,
        session: &SessionInfo,
        _pdu: &Pdu,
        submit_sm: &SubmitSm,
    ) -> Reply<MessageId> {
        self.accept(session, submit_sm)
    }

    fn data_sm(&self, session: &SessionInfo, _pdu: &Pdu, data_sm: &DataSm) -> Reply<MessageId> {
        self.accept(session, &data_sm_as_submit(data_sm))
    }

    fn query_sm(&self, session: &SessionInfo, query_sm: &QuerySm) -> Reply<QuerySmResp> {
        let Some(account) = self.account_of(session) else {
            return Reply::Ready(Err(CommandStatus::ESME_RINVBNDSTS));
        };
        let Some(id) = parse_id(&query_sm.message_id, account.config.id_style) else {
            return Reply::Ready(Err(CommandStatus::ESME_RINVMSGID));
        };
        let store = Arc::clone(&self.store);
        let stats = Arc::clone(&self.stats);
        let name = Arc::clone(&account.name);
        let message_id = query_sm.message_id.clone();
        Reply::Later(Box::pin(async move {
            let record = match tokio::task::spawn_blocking(move || store.get(id)).await {
                Ok(Ok(record)) => record,
                Ok(Err(error)) => {
                    store_error(&stats, "query_sm", &error);
                    return Err(CommandStatus::ESME_RSYSERR);
                }
                Err(_) => return Err(CommandStatus::ESME_RSYSERR),
            };
            match record {
                Some(record) if *record.account == *name => Ok(QuerySmResp {
                    message_id,
                    final_date: SmppTime::default(),
                    message_state: message_state(record.state),
                    error_code: 0,
                }),
                _ => Err(CommandStatus::ESME_RQUERYFAIL),
            }
        }))
    }
}

/// SMPP message_state of a stored state.
#[must_use]
pub(crate) const fn message_state(state: State) -> u8 {
    match state {
        State::Accepted | State::Sent | State::Held => 1,
        State::Delivered => 2,
        State::Expired => 3,
        State::Failed => 5,
        State::Unknown => 7,
        State::Rejected => 8,
    }
}
