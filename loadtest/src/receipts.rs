//! Matching delivery receipts to submits by message id (hex/dec normalised), with the
//! submit→receipt latency histogram.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use hdrhistogram::Histogram;
use smppgate::esme::Inbound;
use smppgate_protocol::pdu::Body;
use smppgate_protocol::receipt::{DeliveryReceipt, IdStyle, normalise_id};
use smppgate_protocol::tlv::TlvTag;
use tokio::time::Instant;

/// A new latency histogram in microseconds (1 µs to 1 h, 3 significant digits).
#[must_use]
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

/// Records `elapsed` (µs, at least 1).
pub fn record(histogram: &mut Histogram<u64>, elapsed: std::time::Duration) {
    histogram.saturating_record(
        u64::try_from(elapsed.as_micros())
            .unwrap_or(u64::MAX)
            .max(1),
    );
}

/// An id waiting for its counterpart: when, and the other key of the same id.
type Waiting = (Instant, Option<String>);

#[derive(Debug)]
struct Book {
    /// Accepted submits waiting for their receipt.
    pending: HashMap<String, Waiting>,
    /// Receipts that arrived before their submit_sm_resp was seen.
    early: HashMap<String, Waiting>,
    outstanding: u64,
    early_count: u64,
    expected: u64,
    matched: u64,
    without_id: u64,
    latency: Histogram<u64>,
}

/// The receipt book, shared by the senders and the receipt collectors.
#[derive(Debug)]
pub struct Tracker {
    book: Mutex<Book>,
}

/// Receipt figures at the end.
#[derive(Debug, Clone)]
pub struct ReceiptSummary {
    /// Accepted submits that asked for a receipt.
    pub expected: u64,
    /// Receipts matched to a submit.
    pub matched: u64,
    /// Receipts that matched no submit (or carried no id).
    pub unmatched: u64,
    /// Submits whose receipt did not arrive.
    pub missing: u64,
    /// submit→receipt latency (µs).
    pub latency: Histogram<u64>,
}

fn keys(id: &str) -> (String, Option<String>) {
    let candidates = normalise_id(id, IdStyle::Auto);
    (
        candidates.primary.as_str().to_owned(),
        candidates.alternate.map(|a| a.as_str().to_owned()),
    )
}

fn take(map: &mut HashMap<String, Waiting>, key: &str) -> Option<Instant> {
    let (at, other) = map.remove(key)?;
    if let Some(other) = other {
        map.remove(&other);
    }
    Some(at)
}

fn put(
    map: &mut HashMap<String, Waiting>,
    (primary, alternate): (String, Option<String>),
    at: Instant,
) {
    if let Some(alternate) = alternate {
        map.insert(alternate.clone(), (at, Some(primary.clone())));
        map.insert(primary, (at, Some(alternate)));
    } else {
        map.insert(primary, (at, None));
    }
}

impl Default for Tracker {
    fn default() -> Self {
        Self {
            book: Mutex::new(Book {
                pending: HashMap::new(),
                early: HashMap::new(),
                outstanding: 0,
                early_count: 0,
                expected: 0,
                matched: 0,
                without_id: 0,
                latency: histogram(),
            }),
        }
    }
}

impl Tracker {
    fn lock(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An accepted submit with this message id, submitted (intended) at `submitted`.
    pub fn submitted(&self, id: &str, submitted: Instant) {
        let keys = keys(id);
        let mut book = self.lock();
        book.expected += 1;
        let found = take(&mut book.early, &keys.0)
            .or_else(|| keys.1.as_deref().and_then(|k| take(&mut book.early, k)));
        if let Some(arrived) = found {
            book.early_count -= 1;
            book.matched += 1;
            record(
                &mut book.latency,
                arrived.saturating_duration_since(submitted),
            );
        } else {
            book.outstanding += 1;
            put(&mut book.pending, keys, submitted);
        }
    }

    /// A receipt for this id arrived now (`None`: a receipt without an id).
    pub fn receipt(&self, id: Option<&str>) {
        let now = Instant::now();
        let Some(id) = id else {
            self.lock().without_id += 1;
            return;
        };
        let keys = keys(id);
        let mut book = self.lock();
        let found = take(&mut book.pending, &keys.0)
            .or_else(|| keys.1.as_deref().and_then(|k| take(&mut book.pending, k)));
        if let Some(submitted) = found {
            book.outstanding -= 1;
            book.matched += 1;
            record(&mut book.latency, now.saturating_duration_since(submitted));
        } else {
            book.early_count += 1;
            put(&mut book.early, keys, now);
        }
    }

    /// Receipts matched so far.
    #[must_use]
    pub fn matched(&self) -> u64 {
        self.lock().matched
    }

    /// Submits still waiting for a receipt.
    #[must_use]
    pub fn outstanding(&self) -> u64 {
        self.lock().outstanding
    }

    /// Waits until no submit waits for its receipt, or `deadline`.
    pub async fn wait(&self, deadline: Instant) {
        while self.outstanding() > 0 && Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// The figures now.
    #[must_use]
    pub fn summary(&self) -> ReceiptSummary {
        let book = self.lock();
        ReceiptSummary {
            expected: book.expected,
            matched: book.matched,
            unmatched: book.early_count + book.without_id,
            missing: book.outstanding,
            latency: book.latency.clone(),
        }
    }
}

/// Reads a bind's deliver_sm / data_sm (answered ESME_ROK by the connection) and hands the
/// delivery receipts among them to `tracker`.
pub async fn collect(mut inbound: Inbound, tracker: Arc<Tracker>) {
    while let Some(request) = inbound.recv().await {
        if let Some(id) = tlv_receipt_id(&request.pdu.body) {
            if let Ok(id) = std::str::from_utf8(&id) {
                tracker.receipt(Some(id));
                continue;
            }
        }
        let Some(receipt) = DeliveryReceipt::from_body(&request.pdu.body) else {
            continue;
        };
        tracker.receipt(receipt.id());
    }
}

/// A deliver_sm receipt's receipted_message_id, read without parsing the text (the TLV
/// wins over the text anyway, as in [`DeliveryReceipt::id`]); `None` sends the caller to
/// the full parse.
fn tlv_receipt_id(body: &Body) -> Option<Bytes> {
    let Body::DeliverSm(deliver_sm) = body else {
        return None;
    };
    // SMPP 3.4 §5.2.12: esm_class bits 2–5 = 0001 is a delivery receipt.
    if deliver_sm.esm_class.0 & 0x3C != 0x04 {
        return None;
    }
    let raw = deliver_sm.tlvs.get(TlvTag::RECEIPTED_MESSAGE_ID)?;
    let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
    Some(raw.slice(..end)).filter(|id| !id.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use smppgate_protocol::pdu::DeliverSm;
    use smppgate_protocol::tlv::Tlvs;
    use smppgate_protocol::types::EsmClass;

    #[test]
    fn the_tlv_id_is_read_without_the_text_and_agrees_with_the_full_parse() {
        let tlvs = Tlvs::builder()
            .push_raw(TlvTag::RECEIPTED_MESSAGE_ID, b"6b03fd0f00000\0")
            .build()
            .unwrap();
        let body = Body::DeliverSm(DeliverSm {
            esm_class: EsmClass(0x04),
            short_message: bytes::Bytes::from_static(b"id:other stat:DELIVRD"),
            tlvs,
            ..DeliverSm::default()
        });
        let id = tlv_receipt_id(&body).unwrap();
        assert_eq!(&id[..], b"6b03fd0f00000");
        assert_eq!(
            DeliveryReceipt::from_body(&body).unwrap().id(),
            std::str::from_utf8(&id).ok()
        );
        let Body::DeliverSm(mut mo) = body else {
            unreachable!()
        };
        mo.esm_class = EsmClass(0);
        assert_eq!(tlv_receipt_id(&Body::DeliverSm(mo)), None);
    }

    #[tokio::test]
    async fn matches_hex_and_decimal_in_any_order() {
        let tracker = Tracker::default();
        let t = Instant::now();
        tracker.submitted("1a2b", t); // hex id, receipt in decimal
        tracker.receipt(Some("6699"));
        tracker.receipt(Some("00FF")); // receipt first
        tracker.submitted("ff", t);
        tracker.submitted("123", t); // all digits: either reading
        tracker.receipt(Some("123"));
        tracker.submitted("abc", t); // never receipted
        tracker.receipt(Some("zzz-unknown"));
        tracker.receipt(None);
        let summary = tracker.summary();
        assert_eq!(summary.expected, 4);
        assert_eq!(summary.matched, 3);
        assert_eq!(summary.missing, 1);
        assert_eq!(summary.unmatched, 2);
        assert_eq!(summary.latency.len(), 3);
    }
}
