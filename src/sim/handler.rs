//! [`SimHandler`]: the simulator's answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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
use smppgate_protocol::types::{Address, DataCoding, EsmClass, RegisteredDelivery, SmppTime};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::counters::{Counters, add, bump};
use super::receipts::ReceiptJob;
use super::{IdFormat, SimConfig, clock};
use crate::smsc::{BindRequest, MessageId, Reply, SessionHandle, SessionInfo, SmscHandler};

/// Submission times of the most recent ids, for query_sm (older ids count as delivered).
const RECENT_IDS: usize = 1 << 16;

/// The simulator's [`SmscHandler`].
#[derive(Debug)]
pub struct SimHandler {
    system_id: Option<Bytes>,
    password: Option<Bytes>,
    receipt_delay: Duration,
    id_format: IdFormat,
    counters: Arc<Counters>,
    /// First id issued (ids count up from it; unique across runs as it comes from the clock).
    first_id: u64,
    next_id: AtomicU64,
    origin: Instant,
    /// ms since `origin` + 1 at which recent ids were issued (0: none).
    issued_at: Box<[AtomicU64]>,
    receipts: mpsc::Sender<ReceiptJob>,
}

/// One message: its id and when it was issued.
struct Issued {
    id: u64,
    text: Bytes,
}

impl SimHandler {
    pub(crate) fn new(config: &SimConfig, receipts: mpsc::Sender<ReceiptJob>) -> Self {
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

    fn format_id(&self, id: u64) -> Bytes {
        Bytes::from(match self.id_format {
            IdFormat::Hex => format!("{id:x}"),
            IdFormat::Dec => id.to_string(),
        })
    }

    fn parse_id(&self, id: &[u8]) -> Option<u64> {
        let id = std::str::from_utf8(id).ok()?.trim();
        match self.id_format {
            IdFormat::Hex => u64::from_str_radix(id, 16).ok(),
            IdFormat::Dec => id.parse().ok(),
        }
    }

    fn issue(&self) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let slot = usize::try_from(id - self.first_id).unwrap_or(0) % RECENT_IDS;
        self.issued_at[slot].store(self.now_ms() + 1, Ordering::Relaxed);
        id
    }

    /// Queues the receipt for `id`. `false` when the queue is full.
    fn queue_receipt(
        &self,
        session: &SessionInfo,
        issued: &Issued,
        submitter: &Address,
        recipient: &Address,
    ) -> bool {
        let now = clock::utc_now();
        let mut builder = ReceiptBuilder::new(
            String::from_utf8_lossy(&self.format_id(issued.id)).into_owned(),
            MessageState::Delivered,
        );
        builder.submit_date = Some(now);
        builder.done_date = Some(now);
        builder.text = String::from_utf8_lossy(&issued.text).into_owned();
        let tlvs = Tlvs::builder()
            .push_raw(
                TlvTag::RECEIPTED_MESSAGE_ID,
                &builder.tlv_receipted_message_id(),
            )
            .push_raw(TlvTag::MESSAGE_STATE, &[builder.tlv_message_state()])
            .build()
            .unwrap_or_default();
        let deliver_sm = DeliverSm {
            // The receipt goes from the recipient back to the submitter.
            source_addr: recipient.clone(),
            destination_addr: submitter.clone(),
            esm_class: EsmClass(0x04),
            data_coding: DataCoding(0),
            short_message: Bytes::from(builder.format_text()),
            tlvs,
            ..DeliverSm::default()
        };
        let job = ReceiptJob {
            due: Instant::now() + self.receipt_delay,
            connection_id: session.connection_id,
            system_id: session.system_id.clone(),
            deliver_sm,
        };
        self.receipts.try_send(job).is_ok()
    }

    /// Issues an id for a message and queues its receipts (one per recipient) when asked.
    fn accept_message(
        &self,
        session: &SessionInfo,
        registered_delivery: RegisteredDelivery,
        source: &Address,
        recipients: &[&Address],
        text: impl FnOnce() -> Bytes,
    ) -> Result<MessageId, CommandStatus> {
        if registered_delivery.wants_receipt() && self.receipts.capacity() < recipients.len() {
            bump(&self.counters.receipts_dropped);
            return Err(CommandStatus::ESME_RMSGQFUL);
        }
        let issued = Issued {
            id: self.issue(),
            text: if registered_delivery.wants_receipt() {
                text()
            } else {
                Bytes::new()
            },
        };
        if registered_delivery.wants_receipt() {
            for recipient in recipients {
                if !self.queue_receipt(session, &issued, source, recipient) {
                    bump(&self.counters.receipts_dropped);
                }
            }
        }
        Ok(self.format_id(issued.id))
    }
}

/// The first characters of a message, printable ASCII only (the receipt's `text:`).
fn receipt_text(data_coding: u8, esm_class: EsmClass, user_data: &[u8]) -> Bytes {
    let text = coding::decode_user_data(data_coding, esm_class.0, user_data, TextConfig::default())
        .unwrap_or_default();
    let text: String = text
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(20)
        .collect();
    Bytes::from(text)
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
        Ok(Bytes::from_static(b"smppgate-sim"))
    }

    fn on_bound(&self, _session: &SessionHandle) {
        bump(&self.counters.binds);
        self.counters
            .sessions_active
            .fetch_add(1, Ordering::Relaxed);
    }

    fn on_closed(&self, session: Option<&SessionInfo>, reason: CloseReason, stats: &SessionStats) {
        let c = &self.counters;
        if session.is_some() {
            c.sessions_active.fetch_sub(1, Ordering::Relaxed);
        }
        bump(&c.connections_closed);
        match reason {
            CloseReason::PeerUnbound => bump(&c.unbinds),
            CloseReason::FramingLost => bump(&c.frame_errors),
            _ => {}
        }
        add(&c.generic_nack_sent, stats.generic_nacks_sent);
        add(&c.invalid_bind_status, stats.illegal_requests_answered);
        add(&c.decode_errors, stats.decode_errors);
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
        Reply::Ready(self.accept_message(
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
        ))
    }

    fn data_sm(&self, session: &SessionInfo, _pdu: &Pdu, data_sm: &DataSm) -> Reply<MessageId> {
        bump(&self.counters.data_sm);
        if is_segment(data_sm.esm_class, &data_sm.tlvs) {
            bump(&self.counters.segments);
        }
        Reply::Ready(self.accept_message(
            session,
            data_sm.registered_delivery,
            &data_sm.source_addr,
            &[&data_sm.destination_addr],
            || {
                let payload = data_sm.tlvs.message_payload().unwrap_or_default();
                receipt_text(data_sm.data_coding.0, data_sm.esm_class, &payload)
            },
        ))
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
        Reply::Ready(
            self.accept_message(
                session,
                submit_multi.registered_delivery,
                &submit_multi.source_addr,
                &recipients,
                || receipt_text(submit_multi.data_coding.0, submit_multi.esm_class, &payload),
            )
            .map(|message_id| SubmitMultiResp {
                message_id,
                ..SubmitMultiResp::default()
            }),
        )
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
