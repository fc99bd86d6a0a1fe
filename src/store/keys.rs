//! Key and value layouts of the embedded store (big-endian integers, so byte order is
//! numeric order; strings length-prefixed, so no separator can be confused with content).

use serde::Serialize;

use super::{
    MessageRecord, Millis, OutboxItem, PartRecord, RecordTail, RecordTail2, State, StatsKey,
    StoreError,
};
use crate::config::Class;

/// `messages`: id.
pub(super) fn message(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

/// Reads an id written by [`message`].
pub(super) fn message_id(key: &[u8]) -> Result<u64, StoreError> {
    let bytes: [u8; 8] = key
        .try_into()
        .map_err(|_| StoreError::new(format!("corrupt message key ({} bytes)", key.len())))?;
    Ok(u64::from_be_bytes(bytes))
}

/// Appends `s` with a 2-byte length.
pub(super) fn push_str(key: &mut Vec<u8>, s: &str) -> Result<(), StoreError> {
    let len = u16::try_from(s.len())
        .map_err(|_| StoreError::new(format!("key part of {} bytes (most 65535)", s.len())))?;
    key.extend_from_slice(&len.to_be_bytes());
    key.extend_from_slice(s.as_bytes());
    Ok(())
}

/// `carrier`: (carrier, carrier id).
pub(super) fn carrier(carrier: &str, carrier_id: &str) -> Result<Vec<u8>, StoreError> {
    let mut key = Vec::with_capacity(4 + carrier.len() + carrier_id.len());
    push_str(&mut key, carrier)?;
    push_str(&mut key, carrier_id)?;
    Ok(key)
}

/// `carrier` value: (id, part).
pub(super) fn carrier_value(id: u64, part: u16) -> [u8; 10] {
    let mut value = [0; 10];
    value[..8].copy_from_slice(&id.to_be_bytes());
    value[8..].copy_from_slice(&part.to_be_bytes());
    value
}

/// `pending` value: the message's `accepted`, so that the expiry scan
/// ([`super::Store::expiry_page`]) can stop at the first message that the store's
/// validity does not make due, without reading records. Fixed when the message is
/// accepted.
pub(super) fn pending_value(record: &MessageRecord) -> [u8; 8] {
    record.accepted.to_be_bytes()
}

/// Reads a value written by [`pending_value`]: `None` for the empty values of stores
/// written before it (their records are read).
pub(super) fn parse_pending_value(value: &[u8]) -> Option<Millis> {
    Some(u64::from_be_bytes(value.try_into().ok()?))
}

/// `expiry`: (expires, id), for every message with its own `expires`.
pub(super) fn expiry(expires: Millis, id: u64) -> [u8; 16] {
    let mut key = [0; 16];
    key[..8].copy_from_slice(&expires.to_be_bytes());
    key[8..].copy_from_slice(&id.to_be_bytes());
    key
}

/// Reads a key written by [`expiry`].
pub(super) fn parse_expiry(key: &[u8]) -> Result<(Millis, u64), StoreError> {
    let bytes: [u8; 16] = key
        .try_into()
        .map_err(|_| StoreError::new(format!("corrupt expiry key ({} bytes)", key.len())))?;
    let (expires, id) = bytes.split_at(8);
    Ok((
        u64::from_be_bytes(expires.try_into().unwrap_or_default()),
        u64::from_be_bytes(id.try_into().unwrap_or_default()),
    ))
}

/// Reads a value written by [`carrier_value`].
/// Every key a carrier id may be indexed under: the writer indexes the readings of its
/// carrier's id style (`normalise_id`: decimal "12345" as "3039", hex in lower case
/// without leading zeros, both readings of an ambiguous one under `auto`), which the
/// store does not know, so removing a message's entries tries each style's.
pub(super) fn carrier_readings(carrier_id: &str) -> Vec<String> {
    use smppgate_protocol::receipt::{IdStyle, normalise_id};
    let mut readings = vec![carrier_id.to_owned()];
    for style in [IdStyle::Hex, IdStyle::Dec, IdStyle::Auto] {
        for reading in normalise_id(carrier_id, style).iter() {
            if !readings.iter().any(|known| known == reading.as_str()) {
                readings.push(reading.as_str().to_owned());
            }
        }
    }
    readings
}

pub(super) fn parse_carrier_value(value: &[u8]) -> Result<(u64, u16), StoreError> {
    let bytes: [u8; 10] = value.try_into().map_err(|_| {
        StoreError::new(format!(
            "corrupt carrier index value ({} bytes)",
            value.len()
        ))
    })?;
    let (id, part) = bytes.split_at(8);
    let id = u64::from_be_bytes(id.try_into().unwrap_or_default());
    let part = u16::from_be_bytes(part.try_into().unwrap_or_default());
    Ok((id, part))
}

/// `outbox` and `parked` prefix of one account.
pub(super) fn outbox_prefix(account: &str) -> Result<Vec<u8>, StoreError> {
    let mut key = Vec::with_capacity(2 + account.len() + 8);
    push_str(&mut key, account)?;
    Ok(key)
}

/// `outbox` and `parked`: (account, seq).
pub(super) fn outbox(account: &str, seq: u64) -> Result<Vec<u8>, StoreError> {
    let mut key = outbox_prefix(account)?;
    key.extend_from_slice(&seq.to_be_bytes());
    Ok(key)
}

/// `meta`: the highest message id.
pub(super) const MAX_ID: &[u8] = b"max_id";

/// `meta`: the last `expiry` key the scan of own expiries passed
/// ([`super::Store::own_expiries`]).
pub(super) const EXPIRY_SCANNED: &[u8] = b"expiry_scanned";

/// `meta`: the first day (since the epoch) whose hours are not rolled up into
/// `stats_days`.
pub(super) const STATS_ROLLED: &[u8] = b"stats_rolled";

/// `meta`: the first hour whose `stats` rows are kept (those before were trimmed).
pub(super) const STATS_HOURS_FROM: &[u8] = b"stats_hours_from";

/// `meta`: the first day whose `stats_days` rows are kept.
pub(super) const STATS_DAYS_FROM: &[u8] = b"stats_days_from";

/// `meta`: the last outbox seq of an account.
pub(super) fn outbox_seq(account: &str) -> Result<Vec<u8>, StoreError> {
    let mut key = b"outbox_seq:".to_vec();
    push_str(&mut key, account)?;
    Ok(key)
}

/// Reads a `u64` meta value.
pub(super) fn parse_u64(value: &[u8]) -> Result<u64, StoreError> {
    let bytes: [u8; 8] = value
        .try_into()
        .map_err(|_| StoreError::new(format!("corrupt counter ({} bytes)", value.len())))?;
    Ok(u64::from_be_bytes(bytes))
}

/// Encodes a record (postcard: varints, no field names; about 1.1× the payload).
pub(super) fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    // Room for a typical record up front: no growth while encoding.
    postcard::to_extend(value, Vec::with_capacity(256))
        .map_err(|e| StoreError::new(format!("encode: {e}")))
}

/// Decodes a record; a corrupt one is an error, never a panic.
pub(super) fn decode<T: serde::de::DeserializeOwned>(
    what: &str,
    bytes: &[u8],
) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|e| StoreError::new(format!("corrupt {what}: {e}")))
}

/// `stats`: (hour, account, route, carrier), hours first so a range from an hour on reads
/// everything since.
pub(super) fn stats(key: &StatsKey) -> Result<Vec<u8>, StoreError> {
    let mut bytes =
        Vec::with_capacity(14 + key.account.len() + key.route.len() + key.carrier.len());
    bytes.extend_from_slice(&key.hour.to_be_bytes());
    push_str(&mut bytes, &key.account)?;
    push_str(&mut bytes, &key.route)?;
    push_str(&mut bytes, &key.carrier)?;
    Ok(bytes)
}

/// Encodes a message record: its first encoding, then its [`RecordTail`], then its
/// [`RecordTail2`]. A later field goes in a further tail, never into an existing one, so
/// every record written so far still decodes (and an older build reads the prefix it
/// knows).
pub(super) fn encode_message(record: &MessageRecord) -> Result<Vec<u8>, StoreError> {
    let mut bytes = Vec::with_capacity(256);
    encode_message_into(record, &[], true, &mut bytes)?;
    Ok(bytes)
}

/// A record's first encoding, field for field, borrowed (so nothing is cloned to encode
/// it) and with the request optional: an `updates` value leaves it out.
#[derive(Serialize)]
struct RecordView<'a> {
    id: u64,
    account: &'a str,
    accepted: Millis,
    class: Class,
    route: &'a Option<String>,
    request: ByteString<'a>,
    part_count: u16,
    wants_receipt: bool,
    state: State,
    parts: &'a [PartRecord],
    not_before: Millis,
}

/// [`RecordTail`], borrowed.
#[derive(Serialize)]
struct TailView<'a> {
    expires: Millis,
    route_taken: &'a str,
}

/// [`RecordTail2`], borrowed.
#[derive(Serialize)]
struct Tail2View<'a> {
    client_ref: Option<&'a str>,
    deferred_by: Option<&'a str>,
}

/// Bytes written as one byte string (as `raw_bytes` writes the record's request).
struct ByteString<'a>(&'a [u8]);

impl Serialize for ByteString<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

/// Replaces `buf` with `prefix` and the encoding of `record` ([`encode_message`]'s
/// layout), its request left empty unless `with_request`. `buf` keeps its allocation from
/// one record to the next: the planner encodes every record of a batch through one buffer.
pub(super) fn encode_message_into(
    record: &MessageRecord,
    prefix: &[u8],
    with_request: bool,
    buf: &mut Vec<u8>,
) -> Result<(), StoreError> {
    let failed = |e: postcard::Error| StoreError::new(format!("encode: {e}"));
    let view = RecordView {
        id: record.id,
        account: &record.account,
        accepted: record.accepted,
        class: record.class,
        route: &record.route,
        request: ByteString(if with_request { &record.request } else { &[] }),
        part_count: record.part_count,
        wants_receipt: record.wants_receipt,
        state: record.state,
        parts: &record.parts,
        not_before: record.not_before,
    };
    let tail = TailView {
        expires: record.expires,
        route_taken: &record.route_taken,
    };
    let tail2 = Tail2View {
        client_ref: record.client_ref.as_deref(),
        deferred_by: record.deferred_by.as_deref(),
    };
    let mut out = std::mem::take(buf);
    out.clear();
    out.extend_from_slice(prefix);
    let out = postcard::to_extend(&view, out).map_err(failed)?;
    let out = postcard::to_extend(&tail, out).map_err(failed)?;
    *buf = postcard::to_extend(&tail2, out).map_err(failed)?;
    Ok(())
}

/// Decodes a message record written by [`encode_message`] or by the first encoding
/// (no tail: the tail's fields read as their defaults).
pub(super) fn decode_message(bytes: &[u8]) -> Result<MessageRecord, StoreError> {
    let corrupt = |e: postcard::Error| StoreError::new(format!("corrupt message: {e}"));
    let (mut record, rest): (MessageRecord, _) =
        postcard::take_from_bytes(bytes).map_err(corrupt)?;
    if rest.is_empty() {
        return Ok(record);
    }
    let (tail, rest): (RecordTail, _) = postcard::take_from_bytes(rest).map_err(corrupt)?;
    record.expires = tail.expires;
    record.route_taken = tail.route_taken;
    if rest.is_empty() {
        return Ok(record);
    }
    let tail2: RecordTail2 = postcard::from_bytes(rest).map_err(corrupt)?;
    record.client_ref = tail2.client_ref;
    record.deferred_by = tail2.deferred_by;
    Ok(record)
}

/// [`OutboxItem`]'s encoding, borrowed.
#[derive(Serialize)]
struct OutboxView<'a> {
    seq: u64,
    account: &'a str,
    deliver_sm: ByteString<'a>,
    queued: Millis,
    attempts: u32,
}

/// Replaces `buf` with the encoding of `item` (as [`encode`] writes it) with `seq` as its
/// seq: the item is not copied to set it.
pub(super) fn encode_outbox_into(
    item: &OutboxItem,
    seq: u64,
    buf: &mut Vec<u8>,
) -> Result<(), StoreError> {
    let view = OutboxView {
        seq,
        account: &item.account,
        deliver_sm: ByteString(&item.deliver_sm),
        queued: item.queued,
        attempts: item.attempts,
    };
    let mut out = std::mem::take(buf);
    out.clear();
    *buf = postcard::to_extend(&view, out).map_err(|e| StoreError::new(format!("encode: {e}")))?;
    Ok(())
}

/// The first byte of an `updates` value: its layout (1: a record as [`encode_message`]
/// writes it, with an empty request). A later layout takes the next number.
const UPDATE_V1: u8 = 1;

/// Replaces `buf` with the `updates` value of `record`: everything but its request, which
/// stays in the `messages` value written once at acceptance (about half of a record).
pub(super) fn encode_update_into(
    record: &MessageRecord,
    buf: &mut Vec<u8>,
) -> Result<(), StoreError> {
    encode_message_into(record, &[UPDATE_V1], false, buf)
}

/// The record of a `messages` value (`base`) updated by its `updates` value: every field
/// from the update, the request from the base.
pub(super) fn apply_update(
    base: MessageRecord,
    update: &[u8],
) -> Result<MessageRecord, StoreError> {
    match update.split_first() {
        Some((&UPDATE_V1, rest)) => Ok(MessageRecord {
            request: base.request,
            ..decode_message(rest)?
        }),
        Some((version, _)) => Err(StoreError::new(format!(
            "message {}: update of unknown layout {version}",
            base.id
        ))),
        None => Err(StoreError::new(format!(
            "message {}: empty update",
            base.id
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outbox_item_encodes_the_same_through_its_view() {
        let item = OutboxItem {
            seq: 0,
            account: "acc".to_owned(),
            deliver_sm: vec![1, 2, 3, 0xff],
            queued: 77,
            attempts: 2,
        };
        let mut buf = vec![9; 3];
        encode_outbox_into(&item, 300, &mut buf).unwrap();
        assert_eq!(buf, encode(&OutboxItem { seq: 300, ..item }).unwrap());
    }

    #[test]
    fn keys_round_trip_and_order() {
        assert!(message(1) < message(256));
        assert_eq!(message_id(&message(42)).unwrap(), 42);
        assert!(message_id(b"short").is_err());
        assert_eq!(parse_carrier_value(&carrier_value(7, 3)).unwrap(), (7, 3));
        assert!(parse_carrier_value(b"x").is_err());
        // "ab" + "c" and "a" + "bc" are different keys.
        assert_ne!(carrier("ab", "c").unwrap(), carrier("a", "bc").unwrap());
        assert!(outbox("a", 1).unwrap() < outbox("a", 2).unwrap());
        assert!(
            outbox("a", u64::MAX)
                .unwrap()
                .starts_with(&outbox_prefix("a").unwrap())
        );
        assert!(
            !outbox("ab", 1)
                .unwrap()
                .starts_with(&outbox_prefix("a").unwrap())
        );
        assert!(carrier(&"x".repeat(70_000), "1").is_err());
        assert!(decode::<super::super::MessageRecord>("message", &[0xff; 3]).is_err());
    }
}
