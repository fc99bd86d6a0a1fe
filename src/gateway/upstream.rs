//! The upstream side: [`SmscHandler`] for [`Core`] — bind checks, submit checks, persist
//! before answering.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{DataSm, Pdu, QuerySm, QuerySmResp, SubmitSm};
use smppgate_protocol::session::{CloseReason, SessionStats};
use smppgate_protocol::types::SmppTime;

use super::accounts::{Account, BindRefusal, refusal};
use super::core::{Core, bump, now_ms, request_bytes};
use super::events::Event;
use crate::config::{Class, WindowFullStatus};
use crate::smsc::{BindRequest, MessageId, Reply, SessionHandle, SessionInfo, SmscHandler};
use crate::store::{MessageRecord, Op, PartRecord, State};

/// Releases a window slot when the request is answered, however it ends.
struct Slot(Arc<AtomicU64>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Core {
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

    fn check_bind(&self, request: &BindRequest) -> Result<&Arc<Account>, BindRefusal> {
        let ip = request.peer_addr.ip();
        if self.lockout.is_locked(ip, Instant::now()) {
            return Err(BindRefusal::LockedOut);
        }
        let account = self
            .accounts
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

    fn account_of(&self, session: &SessionInfo) -> Option<&Arc<Account>> {
        self.accounts.get(&session.system_id)
    }

    fn reject(&self, account: &Account, status: CommandStatus) -> Reply<MessageId> {
        bump(&self.stats.rejected);
        metrics::counter!(
            "smppgate_upstream_rejected_total",
            "account" => account.name.to_string(),
            "status" => status.name().unwrap_or("other")
        )
        .increment(1);
        Reply::Ready(Err(status))
    }

    /// Every check of a submit, then persist, answer, dispatch.
    fn accept(self: &Arc<Self>, session: &SessionInfo, submit_sm: SubmitSm) -> Reply<MessageId> {
        let Some(account) = self.account_of(session) else {
            return Reply::Ready(Err(CommandStatus::ESME_RINVBNDSTS));
        };
        let Some(window) = self
            .outstanding
            .get(&session.connection_id)
            .map(|w| Arc::clone(&w))
        else {
            return Reply::Ready(Err(CommandStatus::ESME_RINVBNDSTS));
        };
        if window.fetch_add(1, Ordering::AcqRel) >= account.config.window as u64 {
            window.fetch_sub(1, Ordering::AcqRel);
            let status = match account.config.window_full_status {
                WindowFullStatus::MsgQFull => CommandStatus::ESME_RMSGQFUL,
                WindowFullStatus::Throttled => CommandStatus::ESME_RTHROTTLED,
            };
            return self.reject(account, status);
        }
        let slot = Slot(window);
        if !account.take_token() {
            return self.reject(account, CommandStatus::ESME_RTHROTTLED);
        }
        if !account.sender_allowed(&submit_sm.source_addr.addr) {
            return self.reject(account, CommandStatus::ESME_RINVSRCADR);
        }
        let Some(route) = self.route_of(
            account.config.route.as_deref(),
            &submit_sm.destination_addr.addr,
        ) else {
            // Not a number, or no route takes it.
            return self.reject(account, CommandStatus::ESME_RINVDSTADR);
        };
        let parts = match self.split(&submit_sm) {
            Ok(parts) => parts,
            Err(status) => return self.reject(account, status),
        };
        let class = Class::parse(&String::from_utf8_lossy(&submit_sm.service_type))
            .unwrap_or(account.config.class);
        if !self.has_room(&route, class, parts.len()) {
            // The route's queue is full: backpressure instead of growth.
            return self.reject(account, CommandStatus::ESME_RMSGQFUL);
        }
        let Some(request) = request_bytes(&submit_sm) else {
            return self.reject(account, CommandStatus::ESME_RSYSERR);
        };
        let id = self.next_id();
        let now = now_ms();
        let record = MessageRecord {
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
        };
        let core = Arc::clone(self);
        let account = Arc::clone(account);
        let span = tracing::debug_span!("message", id, account = %account.name);
        Reply::Later(Box::pin(tracing::Instrument::instrument(
            async move {
                let _slot = slot;
                if let Err(error) = core.group.commit(vec![Op::Insert(record.clone())]).await {
                    bump(&core.stats.store_errors);
                    tracing::error!(%error, "store failed: answering ESME_RSYSERR");
                    return Err(CommandStatus::ESME_RSYSERR);
                }
                bump(&core.stats.accepted);
                account.accepted_counter.increment(1);
                tracing::debug!(parts = parts.len(), %route, "accepted");
                // Before the parts go out, so the writer holds the record when their
                // outcomes come (same queue, in order). A full queue only costs the
                // writer a store read: never wait here, never send out of order.
                let _ = core.events.try_send(Event::Accepted(Arc::new(record)));
                let skip = vec![false; parts.len()];
                core.dispatch(id, class, &route, parts, &skip);
                Ok(Bytes::from(Core::format_id(id, account.config.id_style)))
            },
            span,
        )))
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

impl SmscHandler for Arc<Core> {
    fn authenticate(&self, request: &BindRequest) -> Result<Bytes, CommandStatus> {
        match self.check_bind(request) {
            Ok(account) => {
                self.lockout.succeed(request.peer_addr.ip());
                self.outstanding
                    .insert(request.connection_id, Arc::new(AtomicU64::new(0)));
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
            self.outbox_wake.notify_one();
        }
    }

    fn on_bind_abandoned(&self, session: &SessionInfo) {
        self.outstanding.remove(&session.connection_id);
        if let Some(account) = self.account_of(session) {
            account.remove_bind();
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
        self.accept(session, submit_sm.clone())
    }

    fn data_sm(&self, session: &SessionInfo, _pdu: &Pdu, data_sm: &DataSm) -> Reply<MessageId> {
        self.accept(session, data_sm_as_submit(data_sm))
    }

    fn query_sm(&self, session: &SessionInfo, query_sm: &QuerySm) -> Reply<QuerySmResp> {
        let Some(account) = self.account_of(session) else {
            return Reply::Ready(Err(CommandStatus::ESME_RINVBNDSTS));
        };
        let Some(id) = Core::parse_id(&query_sm.message_id, account.config.id_style) else {
            return Reply::Ready(Err(CommandStatus::ESME_RINVMSGID));
        };
        let store = Arc::clone(&self.store);
        let name = Arc::clone(&account.name);
        let message_id = query_sm.message_id.clone();
        Reply::Later(Box::pin(async move {
            let record = tokio::task::spawn_blocking(move || store.get(id))
                .await
                .map_err(|_| CommandStatus::ESME_RSYSERR)?
                .map_err(|_| CommandStatus::ESME_RSYSERR)?;
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
        State::Accepted | State::Sent => 1,
        State::Delivered => 2,
        State::Expired => 3,
        State::Failed => 5,
        State::Unknown => 7,
        State::Rejected => 8,
    }
}

/// The current time in milliseconds (re-exported for the other modules).
#[allow(dead_code)]
fn _now() -> u64 {
    now_ms()
}
