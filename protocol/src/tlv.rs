//! Optional parameters (TLVs, reference §2).
//!
//! A PDU's TLVs are stored as [`Tlvs`]: the raw TLV region of the frame, validated once at
//! decode and re-emitted as received, so unknown and vendor tags (0x1400–0x3FFF) survive a
//! decode → encode in order and nothing is allocated per TLV. [`Tlvs::iter`] yields
//! `(TlvTag, Bytes)` slices, [`Tlvs::typed`] the [`Tlv`] view; typed getters cover the
//! common tags. For sending, [`Tlvs::builder`].
//!
//! Receive rules (reference §2.1): the first of duplicate tags wins; known tags that are not
//! allowed in the PDU at hand are kept (and re-encoded) but never validated, so they are
//! never fatal, and the typed getters ignore them; a TLV
//! running past the region is `ESME_RINVOPTPARSTREAM`; an allowed fixed-size tag with the
//! wrong length is `ESME_RINVPARLEN`.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use crate::command_id::CommandId;
use crate::command_status::CommandStatus;

/// Octets of a TLV header: tag I2 + length I2.
pub const TLV_HEADER_LEN: usize = 4;

/// A TLV tag. Any u16 is kept; the consts name the 3.4 tags and the 5.0 tags 3.4 peers
/// may still send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TlvTag(pub u16);

impl TlvTag {
    /// Whether the tag is in the vendor-specific range 0x1400–0x3FFF.
    #[must_use]
    pub const fn is_vendor_specific(self) -> bool {
        matches!(self.0, 0x1400..=0x3FFF)
    }
}

impl fmt::Display for TlvTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({:#06x})", self.0),
            None => write!(f, "{:#06x}", self.0),
        }
    }
}

/// `network_error_code` (0x0423): network type + error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NetworkErrorCode {
    /// 1 ANSI-136, 2 IS-95, 3 GSM.
    pub network_type: u8,
    /// The network's error code.
    pub error_code: u16,
}

/// The three SAR TLVs of a concatenated-message part (0x020C, 0x020E, 0x020F).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sar {
    /// `sar_msg_ref_num`.
    pub msg_ref_num: u16,
    /// `sar_total_segments`.
    pub total_segments: u8,
    /// `sar_segment_seqnum`.
    pub segment_seqnum: u8,
}

/// How a known tag's value is laid out. Private: the public face is [`Tlv`].
trait ValueCodec {
    type Value;
    /// Accepted value lengths (inclusive).
    const MIN: usize;
    const MAX: usize;
    /// Decodes a value whose length is within `MIN..=MAX`.
    fn decode(value: &Bytes) -> Self::Value;
    fn len(value: &Self::Value) -> usize;
    fn write(value: &Self::Value, out: &mut BytesMut);
}

struct U8;
impl ValueCodec for U8 {
    type Value = u8;
    const MIN: usize = 1;
    const MAX: usize = 1;
    fn decode(value: &Bytes) -> u8 {
        value[0]
    }
    fn len(_: &u8) -> usize {
        1
    }
    fn write(value: &u8, out: &mut BytesMut) {
        out.put_u8(*value);
    }
}

struct U16;
impl ValueCodec for U16 {
    type Value = u16;
    const MIN: usize = 2;
    const MAX: usize = 2;
    fn decode(value: &Bytes) -> u16 {
        u16::from_be_bytes([value[0], value[1]])
    }
    fn len(_: &u16) -> usize {
        2
    }
    fn write(value: &u16, out: &mut BytesMut) {
        out.put_u16(*value);
    }
}

/// `source_telematics_id`: 1 octet in OpenSMPP/Kannel, 2 in Wireshark/smpp.pdu
/// (reference §0.10): trust the length, send 2.
struct U8OrU16;
impl ValueCodec for U8OrU16 {
    type Value = u16;
    const MIN: usize = 1;
    const MAX: usize = 2;
    fn decode(value: &Bytes) -> u16 {
        value.iter().fold(0, |acc, &b| (acc << 8) | u16::from(b))
    }
    fn len(_: &u16) -> usize {
        2
    }
    fn write(value: &u16, out: &mut BytesMut) {
        out.put_u16(*value);
    }
}

struct U32;
impl ValueCodec for U32 {
    type Value = u32;
    const MIN: usize = 4;
    const MAX: usize = 4;
    fn decode(value: &Bytes) -> u32 {
        u32::from_be_bytes([value[0], value[1], value[2], value[3]])
    }
    fn len(_: &u32) -> usize {
        4
    }
    fn write(value: &u32, out: &mut BytesMut) {
        out.put_u32(*value);
    }
}

struct Octets;
impl ValueCodec for Octets {
    type Value = Bytes;
    const MIN: usize = 0;
    const MAX: usize = u16::MAX as usize;
    fn decode(value: &Bytes) -> Bytes {
        value.clone()
    }
    fn len(value: &Bytes) -> usize {
        value.len()
    }
    fn write(value: &Bytes, out: &mut BytesMut) {
        out.put_slice(value);
    }
}

/// A C-octet string value: the NUL is part of the TLV value on the wire, not of the typed
/// value (a missing NUL is tolerated on receive).
struct CString;
impl ValueCodec for CString {
    type Value = Bytes;
    const MIN: usize = 0;
    const MAX: usize = u16::MAX as usize;
    fn decode(value: &Bytes) -> Bytes {
        match value.iter().position(|&b| b == 0) {
            Some(end) => value.slice(..end),
            None => value.clone(),
        }
    }
    fn len(value: &Bytes) -> usize {
        value.len() + 1
    }
    fn write(value: &Bytes, out: &mut BytesMut) {
        out.put_slice(value);
        out.put_u8(0);
    }
}

struct NetError;
impl ValueCodec for NetError {
    type Value = NetworkErrorCode;
    const MIN: usize = 3;
    const MAX: usize = 3;
    fn decode(value: &Bytes) -> NetworkErrorCode {
        NetworkErrorCode {
            network_type: value[0],
            error_code: u16::from_be_bytes([value[1], value[2]]),
        }
    }
    fn len(_: &NetworkErrorCode) -> usize {
        3
    }
    fn write(value: &NetworkErrorCode, out: &mut BytesMut) {
        out.put_u8(value.network_type);
        out.put_u16(value.error_code);
    }
}

struct Flag;
impl ValueCodec for Flag {
    type Value = ();
    const MIN: usize = 0;
    const MAX: usize = 0;
    fn decode(_: &Bytes) {}
    fn len(&(): &()) -> usize {
        0
    }
    fn write(&(): &(), _: &mut BytesMut) {}
}

use CommandId::{
    AlertNotification as AN, BindReceiverResp as BRR, BindTransceiverResp as BXR,
    BindTransmitterResp as BTR, DataSm as DS, DataSmResp as DSR, DeliverSm as DLV,
    SubmitMulti as SMU, SubmitSm as SUB,
};

macro_rules! tlvs_table {
    ($(
        $konst:ident = $value:literal, $name:literal, $variant:ident($ty:ty => $codec:ident), [$($allowed:ident),*];
    )*) => {
        impl TlvTag {
            $(
                #[doc = concat!("`", $name, "` (", stringify!($value), ").")]
                pub const $konst: Self = Self($value);
            )*

            /// Every 3.4 tag, in numeric order.
            pub const ALL_3_4: &'static [Self] = &[$(Self::$konst),*];

            /// Whether the tag is one of the 3.4 tags (reference §2).
            #[must_use]
            pub const fn is_3_4(self) -> bool {
                matches!(self.0, $($value)|*)
            }

            /// Whether SMPP 3.4 lists this tag for the operation (reference §2 "allowed in").
            /// Tags not listed are ignored on receive, never fatal (§2.1).
            #[must_use]
            pub fn is_allowed_in(self, command: CommandId) -> bool {
                match self.0 {
                    $($value => [$($allowed),*].contains(&command),)*
                    _ => false,
                }
            }

            /// Accepted value lengths (inclusive) of a 3.4 tag; `None` for other tags.
            #[must_use]
            pub const fn value_len_range(self) -> Option<(usize, usize)> {
                match self.0 {
                    $($value => Some((<$codec as ValueCodec>::MIN, <$codec as ValueCodec>::MAX)),)*
                    _ => None,
                }
            }

            fn name_3_4(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some($name),)*
                    _ => None,
                }
            }
        }

        /// Typed view of one TLV. Tags without a typed variant (5.0, vendor, unknown), and
        /// known tags whose length is wrong, come out as [`Tlv::Unknown`].
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Tlv {
            $(
                #[doc = concat!("`", $name, "` (", stringify!($value), ").")]
                $variant($ty),
            )*
            /// Any other tag, value as received.
            Unknown {
                /// The tag.
                tag: TlvTag,
                /// The value octets.
                value: Bytes,
            },
        }

        impl Tlv {
            /// The tag.
            #[must_use]
            pub fn tag(&self) -> TlvTag {
                match self {
                    $(Self::$variant(_) => TlvTag::$konst,)*
                    Self::Unknown { tag, .. } => *tag,
                }
            }

            /// The typed view of `(tag, value)`; zero-copy for octet values.
            #[must_use]
            pub fn from_raw(tag: TlvTag, value: Bytes) -> Self {
                match tag.0 {
                    $(
                        $value if (<$codec as ValueCodec>::MIN..=<$codec as ValueCodec>::MAX)
                            .contains(&value.len()) =>
                        {
                            Self::$variant(<$codec as ValueCodec>::decode(&value))
                        }
                    )*
                    _ => Self::Unknown { tag, value },
                }
            }

            /// Octets of the value as encoded (header not counted).
            #[must_use]
            pub fn value_len(&self) -> usize {
                match self {
                    $(Self::$variant(v) => <$codec as ValueCodec>::len(v),)*
                    Self::Unknown { value, .. } => value.len(),
                }
            }

            fn write_value(&self, out: &mut BytesMut) {
                match self {
                    $(Self::$variant(v) => <$codec as ValueCodec>::write(v, out),)*
                    Self::Unknown { value, .. } => out.put_slice(value),
                }
            }
        }
    };
}

tlvs_table! {
    DEST_ADDR_SUBUNIT = 0x0005, "dest_addr_subunit", DestAddrSubunit(u8 => U8), [SUB, SMU, DS];
    DEST_NETWORK_TYPE = 0x0006, "dest_network_type", DestNetworkType(u8 => U8), [DS];
    DEST_BEARER_TYPE = 0x0007, "dest_bearer_type", DestBearerType(u8 => U8), [DS];
    DEST_TELEMATICS_ID = 0x0008, "dest_telematics_id", DestTelematicsId(u16 => U16), [DS];
    SOURCE_ADDR_SUBUNIT = 0x000D, "source_addr_subunit", SourceAddrSubunit(u8 => U8), [SUB, SMU, DS];
    SOURCE_NETWORK_TYPE = 0x000E, "source_network_type", SourceNetworkType(u8 => U8), [DS];
    SOURCE_BEARER_TYPE = 0x000F, "source_bearer_type", SourceBearerType(u8 => U8), [DS];
    SOURCE_TELEMATICS_ID = 0x0010, "source_telematics_id", SourceTelematicsId(u16 => U8OrU16), [DS];
    QOS_TIME_TO_LIVE = 0x0017, "qos_time_to_live", QosTimeToLive(u32 => U32), [DS];
    PAYLOAD_TYPE = 0x0019, "payload_type", PayloadType(u8 => U8), [SUB, SMU, DLV, DS];
    ADDITIONAL_STATUS_INFO_TEXT = 0x001D, "additional_status_info_text", AdditionalStatusInfoText(Bytes => CString), [DSR];
    RECEIPTED_MESSAGE_ID = 0x001E, "receipted_message_id", ReceiptedMessageId(Bytes => CString), [DLV, DS];
    MS_MSG_WAIT_FACILITIES = 0x0030, "ms_msg_wait_facilities", MsMsgWaitFacilities(u8 => U8), [SUB, SMU, DS];
    PRIVACY_INDICATOR = 0x0201, "privacy_indicator", PrivacyIndicator(u8 => U8), [SUB, SMU, DLV, DS];
    SOURCE_SUBADDRESS = 0x0202, "source_subaddress", SourceSubaddress(Bytes => Octets), [SUB, SMU, DLV, DS];
    DEST_SUBADDRESS = 0x0203, "dest_subaddress", DestSubaddress(Bytes => Octets), [SUB, SMU, DLV, DS];
    USER_MESSAGE_REFERENCE = 0x0204, "user_message_reference", UserMessageReference(u16 => U16), [SUB, SMU, DLV, DS];
    USER_RESPONSE_CODE = 0x0205, "user_response_code", UserResponseCode(u8 => U8), [SUB, DLV, DS];
    SOURCE_PORT = 0x020A, "source_port", SourcePort(u16 => U16), [SUB, SMU, DLV, DS];
    DESTINATION_PORT = 0x020B, "destination_port", DestinationPort(u16 => U16), [SUB, SMU, DLV, DS];
    SAR_MSG_REF_NUM = 0x020C, "sar_msg_ref_num", SarMsgRefNum(u16 => U16), [SUB, SMU, DLV, DS];
    LANGUAGE_INDICATOR = 0x020D, "language_indicator", LanguageIndicator(u8 => U8), [SUB, SMU, DLV, DS];
    SAR_TOTAL_SEGMENTS = 0x020E, "sar_total_segments", SarTotalSegments(u8 => U8), [SUB, SMU, DLV, DS];
    SAR_SEGMENT_SEQNUM = 0x020F, "sar_segment_seqnum", SarSegmentSeqnum(u8 => U8), [SUB, SMU, DLV, DS];
    SC_INTERFACE_VERSION = 0x0210, "sc_interface_version", ScInterfaceVersion(u8 => U8), [BTR, BRR, BXR];
    CALLBACK_NUM_PRES_IND = 0x0302, "callback_num_pres_ind", CallbackNumPresInd(u8 => U8), [SUB, SMU, DS];
    CALLBACK_NUM_ATAG = 0x0303, "callback_num_atag", CallbackNumAtag(Bytes => Octets), [SUB, SMU, DS];
    NUMBER_OF_MESSAGES = 0x0304, "number_of_messages", NumberOfMessages(u8 => U8), [SUB, SMU, DS];
    CALLBACK_NUM = 0x0381, "callback_num", CallbackNum(Bytes => Octets), [SUB, SMU, DLV, DS];
    DPF_RESULT = 0x0420, "dpf_result", DpfResult(u8 => U8), [DSR];
    SET_DPF = 0x0421, "set_dpf", SetDpf(u8 => U8), [DS];
    MS_AVAILABILITY_STATUS = 0x0422, "ms_availability_status", MsAvailabilityStatus(u8 => U8), [AN];
    NETWORK_ERROR_CODE = 0x0423, "network_error_code", NetworkErrorCode(NetworkErrorCode => NetError), [DLV, DS, DSR];
    MESSAGE_PAYLOAD = 0x0424, "message_payload", MessagePayload(Bytes => Octets), [SUB, SMU, DLV, DS];
    DELIVERY_FAILURE_REASON = 0x0425, "delivery_failure_reason", DeliveryFailureReason(u8 => U8), [DSR];
    MORE_MESSAGES_TO_SEND = 0x0426, "more_messages_to_send", MoreMessagesToSend(u8 => U8), [SUB, DS];
    MESSAGE_STATE = 0x0427, "message_state", MessageState(u8 => U8), [DLV, DS];
    USSD_SERVICE_OP = 0x0501, "ussd_service_op", UssdServiceOp(u8 => U8), [SUB];
    DISPLAY_TIME = 0x1201, "display_time", DisplayTime(u8 => U8), [SUB, SMU, DS];
    SMS_SIGNAL = 0x1203, "sms_signal", SmsSignal(u16 => U16), [SUB, SMU, DS];
    MS_VALIDITY = 0x1204, "ms_validity", MsValidity(u8 => U8), [SUB, SMU, DS];
    ALERT_ON_MESSAGE_DELIVERY = 0x130C, "alert_on_message_delivery", AlertOnMessageDelivery(() => Flag), [SUB, SMU, DS];
    ITS_REPLY_TYPE = 0x1380, "its_reply_type", ItsReplyType(u8 => U8), [SUB, DS];
    ITS_SESSION_INFO = 0x1383, "its_session_info", ItsSessionInfo(u16 => U16), [SUB, DLV, DS];
}

macro_rules! tags_5_0 {
    ($($konst:ident = $value:literal, $name:literal;)*) => {
        impl TlvTag {
            $(
                #[doc = concat!("SMPP 5.0 `", $name, "` (", stringify!($value), "); no typed view.")]
                pub const $konst: Self = Self($value);
            )*

            /// The spec name of a 3.4 or known 5.0 tag (`"message_payload"`).
            #[must_use]
            pub fn name(self) -> Option<&'static str> {
                self.name_3_4().or(match self.0 {
                    $($value => Some($name),)*
                    _ => None,
                })
            }
        }
    };
}

tags_5_0! {
    CONGESTION_STATE = 0x0428, "congestion_state";
    BROADCAST_CHANNEL_INDICATOR = 0x0600, "broadcast_channel_indicator";
    BROADCAST_CONTENT_TYPE = 0x0601, "broadcast_content_type";
    BROADCAST_CONTENT_TYPE_INFO = 0x0602, "broadcast_content_type_info";
    BROADCAST_MESSAGE_CLASS = 0x0603, "broadcast_message_class";
    BROADCAST_REP_NUM = 0x0604, "broadcast_rep_num";
    BROADCAST_FREQUENCY_INTERVAL = 0x0605, "broadcast_frequency_interval";
    BROADCAST_AREA_IDENTIFIER = 0x0606, "broadcast_area_identifier";
    BROADCAST_ERROR_STATUS = 0x0607, "broadcast_error_status";
    BROADCAST_AREA_SUCCESS = 0x0608, "broadcast_area_success";
    BROADCAST_END_TIME = 0x0609, "broadcast_end_time";
    BROADCAST_SERVICE_GROUP = 0x060A, "broadcast_service_group";
    BILLING_IDENTIFICATION = 0x060B, "billing_identification";
    SOURCE_NETWORK_ID = 0x060D, "source_network_id";
    DEST_NETWORK_ID = 0x060E, "dest_network_id";
    SOURCE_NODE_ID = 0x060F, "source_node_id";
    DEST_NODE_ID = 0x0610, "dest_node_id";
    DEST_ADDR_NP_RESOLUTION = 0x0611, "dest_addr_np_resolution";
    DEST_ADDR_NP_INFORMATION = 0x0612, "dest_addr_np_information";
    DEST_ADDR_NP_COUNTRY = 0x0613, "dest_addr_np_country";
}

/// A malformed TLV region or an unencodable TLV.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlvError {
    /// A TLV header or value runs past the end of the region (`ESME_RINVOPTPARSTREAM`).
    #[error("TLV stream malformed at offset {offset}: {reason}")]
    Stream {
        /// Offset in the TLV region of the TLV that does not fit.
        offset: usize,
        /// What does not fit.
        reason: &'static str,
    },
    /// A fixed-size tag allowed in this PDU has the wrong length (`ESME_RINVPARLEN`).
    #[error("TLV {tag} at offset {offset}: length {length}, expected {min}..={max}")]
    Length {
        /// The tag.
        tag: TlvTag,
        /// Offset in the TLV region of the TLV.
        offset: usize,
        /// The length found.
        length: usize,
        /// Smallest accepted length.
        min: usize,
        /// Largest accepted length.
        max: usize,
    },
    /// A value longer than 65535 octets cannot be encoded.
    #[error("TLV {tag}: value of {length} octets exceeds 65535")]
    ValueTooLong {
        /// The tag.
        tag: TlvTag,
        /// The value length.
        length: usize,
    },
}

impl TlvError {
    /// The command_status that answers this error (reference §2.1 rule 5).
    #[must_use]
    pub const fn status(&self) -> CommandStatus {
        match self {
            Self::Length { .. } => CommandStatus::ESME_RINVPARLEN,
            Self::Stream { .. } | Self::ValueTooLong { .. } => CommandStatus::ESME_RINVOPTPARSTREAM,
        }
    }
}

/// The TLVs of one PDU: the raw TLV region, validated.
///
/// A region decoded from a PDU remembers that PDU's operation: the typed getters
/// (`message_state()`, `sar()`, …) then ignore tags SMPP 3.4 does not list for it (§2.1
/// rule 2), while [`Tlvs::get`], [`Tlvs::iter`] and [`Tlvs::typed`] still show everything.
/// Built or [`Tlvs::from_raw`] regions have no operation and hide nothing.
///
/// Equality and hashing compare the raw octets only (order matters).
#[derive(Debug, Clone, Default)]
pub struct Tlvs {
    raw: Bytes,
    context: Option<CommandId>,
}

impl PartialEq for Tlvs {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl Eq for Tlvs {}

impl std::hash::Hash for Tlvs {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.raw.hash(state);
    }
}

impl Tlvs {
    /// No TLVs.
    pub const EMPTY: Self = Self {
        raw: Bytes::new(),
        context: None,
    };

    /// No TLVs.
    #[must_use]
    pub const fn new() -> Self {
        Self::EMPTY
    }

    /// A builder for outgoing TLVs.
    #[must_use]
    pub fn builder() -> TlvsBuilder {
        TlvsBuilder::default()
    }

    /// Wraps a raw TLV region after checking its structure (every header and value in
    /// bounds). Lengths of known tags are not checked: no PDU context.
    ///
    /// # Errors
    /// [`TlvError::Stream`].
    pub fn from_raw(raw: Bytes) -> Result<Self, TlvError> {
        Self::parse(raw, None)
    }

    /// Validates a received TLV region: structure, then the length of every fixed-size tag
    /// that 3.4 allows in `context` (others are ignored, §2.1).
    ///
    /// # Errors
    /// [`TlvError::Stream`] or [`TlvError::Length`].
    pub fn parse(raw: Bytes, context: Option<CommandId>) -> Result<Self, TlvError> {
        let mut offset = 0;
        while offset < raw.len() {
            let rest = &raw[offset..];
            let Some(header) = rest.get(..TLV_HEADER_LEN) else {
                return Err(TlvError::Stream {
                    offset,
                    reason: "TLV header cut short",
                });
            };
            let tag = TlvTag(u16::from_be_bytes([header[0], header[1]]));
            let length = usize::from(u16::from_be_bytes([header[2], header[3]]));
            if rest.len() - TLV_HEADER_LEN < length {
                return Err(TlvError::Stream {
                    offset,
                    reason: "TLV value runs past the end of the PDU",
                });
            }
            // Only fixed-size tags (and source_telematics_id, 1 or 2) are length-checked,
            // and only where 3.4 allows them: anything else is ignored, never fatal (§2.1).
            if let (Some(command), Some((min, max))) = (context, tag.value_len_range()) {
                let fixed = min == max || tag == TlvTag::SOURCE_TELEMATICS_ID;
                if fixed && tag.is_allowed_in(command) && !(min..=max).contains(&length) {
                    return Err(TlvError::Length {
                        tag,
                        offset,
                        length,
                        min,
                        max,
                    });
                }
            }
            offset += TLV_HEADER_LEN + length;
        }
        Ok(Self { raw, context })
    }

    /// The operation these TLVs were decoded for, if any.
    #[must_use]
    pub const fn context(&self) -> Option<CommandId> {
        self.context
    }

    /// The raw region, re-emitted as is by the encoder.
    #[must_use]
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// Whether there are no TLVs.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Octets of the region on the wire.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        self.raw.len()
    }

    /// `(tag, value)` of every TLV in wire order; values are zero-copy slices.
    pub fn iter(&self) -> TlvIter<'_> {
        TlvIter {
            raw: &self.raw,
            offset: 0,
        }
    }

    /// The typed view of every TLV in wire order.
    pub fn typed(&self) -> impl Iterator<Item = Tlv> + '_ {
        self.iter().map(|(tag, value)| Tlv::from_raw(tag, value))
    }

    /// The value of the first TLV with this tag.
    #[must_use]
    pub fn get(&self, tag: TlvTag) -> Option<Bytes> {
        self.find(tag).map(|range| self.raw.slice(range))
    }

    /// Whether a TLV with this tag is present.
    #[must_use]
    pub fn contains(&self, tag: TlvTag) -> bool {
        self.find(tag).is_some()
    }

    /// Where the value of the first TLV with this tag lies in `raw`: the walk of
    /// [`Tlvs::iter`] without a refcounted slice per TLV (the encoder asks on every
    /// short_message).
    fn find(&self, tag: TlvTag) -> Option<std::ops::Range<usize>> {
        let mut offset = 0;
        while let Some(header) = self.raw.get(offset..offset + TLV_HEADER_LEN) {
            let start = offset + TLV_HEADER_LEN;
            let end = start + usize::from(u16::from_be_bytes([header[2], header[3]]));
            if end > self.raw.len() {
                return None;
            }
            if u16::from_be_bytes([header[0], header[1]]) == tag.0 {
                return Some(start..end);
            }
            offset = end;
        }
        None
    }

    /// The typed view of the first TLV with this tag (`Tlv::Unknown` if its length is wrong).
    #[must_use]
    pub fn get_typed(&self, tag: TlvTag) -> Option<Tlv> {
        self.get(tag).map(|value| Tlv::from_raw(tag, value))
    }

    /// The first value of `tag` for a typed getter: `None` when 3.4 does not list the tag
    /// for the PDU these TLVs came from, or when its length is wrong.
    fn first<C: ValueCodec>(&self, tag: TlvTag) -> Option<C::Value> {
        if self
            .context
            .is_some_and(|command| !tag.is_allowed_in(command))
        {
            return None;
        }
        let value = self.get(tag)?;
        (C::MIN..=C::MAX)
            .contains(&value.len())
            .then(|| C::decode(&value))
    }

    /// `message_payload` (0x0424).
    #[must_use]
    pub fn message_payload(&self) -> Option<Bytes> {
        self.first::<Octets>(TlvTag::MESSAGE_PAYLOAD)
    }

    /// `receipted_message_id` (0x001E), without its NUL.
    #[must_use]
    pub fn receipted_message_id(&self) -> Option<Bytes> {
        self.first::<CString>(TlvTag::RECEIPTED_MESSAGE_ID)
    }

    /// `message_state` (0x0427).
    #[must_use]
    pub fn message_state(&self) -> Option<u8> {
        self.first::<U8>(TlvTag::MESSAGE_STATE)
    }

    /// `network_error_code` (0x0423).
    #[must_use]
    pub fn network_error_code(&self) -> Option<NetworkErrorCode> {
        self.first::<NetError>(TlvTag::NETWORK_ERROR_CODE)
    }

    /// The SAR triple, when all three TLVs are present.
    #[must_use]
    pub fn sar(&self) -> Option<Sar> {
        Some(Sar {
            msg_ref_num: self.first::<U16>(TlvTag::SAR_MSG_REF_NUM)?,
            total_segments: self.first::<U8>(TlvTag::SAR_TOTAL_SEGMENTS)?,
            segment_seqnum: self.first::<U8>(TlvTag::SAR_SEGMENT_SEQNUM)?,
        })
    }

    /// `sc_interface_version` (0x0210).
    #[must_use]
    pub fn sc_interface_version(&self) -> Option<u8> {
        self.first::<U8>(TlvTag::SC_INTERFACE_VERSION)
    }

    /// `ms_availability_status` (0x0422).
    #[must_use]
    pub fn ms_availability_status(&self) -> Option<u8> {
        self.first::<U8>(TlvTag::MS_AVAILABILITY_STATUS)
    }

    /// `source_port` (0x020A).
    #[must_use]
    pub fn source_port(&self) -> Option<u16> {
        self.first::<U16>(TlvTag::SOURCE_PORT)
    }

    /// `destination_port` (0x020B).
    #[must_use]
    pub fn destination_port(&self) -> Option<u16> {
        self.first::<U16>(TlvTag::DESTINATION_PORT)
    }

    /// `user_message_reference` (0x0204).
    #[must_use]
    pub fn user_message_reference(&self) -> Option<u16> {
        self.first::<U16>(TlvTag::USER_MESSAGE_REFERENCE)
    }

    /// `payload_type` (0x0019).
    #[must_use]
    pub fn payload_type(&self) -> Option<u8> {
        self.first::<U8>(TlvTag::PAYLOAD_TYPE)
    }

    /// `additional_status_info_text` (0x001D), without its NUL.
    #[must_use]
    pub fn additional_status_info_text(&self) -> Option<Bytes> {
        self.first::<CString>(TlvTag::ADDITIONAL_STATUS_INFO_TEXT)
    }

    /// `delivery_failure_reason` (0x0425).
    #[must_use]
    pub fn delivery_failure_reason(&self) -> Option<u8> {
        self.first::<U8>(TlvTag::DELIVERY_FAILURE_REASON)
    }

    /// `dpf_result` (0x0420).
    #[must_use]
    pub fn dpf_result(&self) -> Option<u8> {
        self.first::<U8>(TlvTag::DPF_RESULT)
    }

    /// `more_messages_to_send` (0x0426).
    #[must_use]
    pub fn more_messages_to_send(&self) -> Option<u8> {
        self.first::<U8>(TlvTag::MORE_MESSAGES_TO_SEND)
    }
}

impl<'a> IntoIterator for &'a Tlvs {
    type Item = (TlvTag, Bytes);
    type IntoIter = TlvIter<'a>;
    fn into_iter(self) -> TlvIter<'a> {
        self.iter()
    }
}

/// Iterator over `(tag, value)` of a [`Tlvs`] region.
#[derive(Debug, Clone)]
pub struct TlvIter<'a> {
    raw: &'a Bytes,
    offset: usize,
}

impl Iterator for TlvIter<'_> {
    type Item = (TlvTag, Bytes);

    fn next(&mut self) -> Option<Self::Item> {
        // The region was validated; `get` keeps this panic-free regardless.
        let header = self.raw.get(self.offset..self.offset + TLV_HEADER_LEN)?;
        let tag = TlvTag(u16::from_be_bytes([header[0], header[1]]));
        let length = usize::from(u16::from_be_bytes([header[2], header[3]]));
        let start = self.offset + TLV_HEADER_LEN;
        if self.raw.len() - start < length {
            self.offset = self.raw.len();
            return None;
        }
        self.offset = start + length;
        Some((tag, self.raw.slice(start..start + length)))
    }
}

/// Builds the TLVs of an outgoing PDU, in push order.
#[derive(Debug, Clone, Default)]
pub struct TlvsBuilder {
    buf: BytesMut,
    error: Option<TlvError>,
}

impl TlvsBuilder {
    /// Appends a typed TLV.
    #[must_use]
    pub fn push(mut self, tlv: Tlv) -> Self {
        if self.reserve(tlv.tag(), tlv.value_len()) {
            tlv.write_value(&mut self.buf);
        }
        self
    }

    /// Appends a TLV from its tag and raw value (vendor tags, pass-through).
    #[must_use]
    pub fn push_raw(mut self, tag: TlvTag, value: &[u8]) -> Self {
        if self.reserve(tag, value.len()) {
            self.buf.put_slice(value);
        }
        self
    }

    fn reserve(&mut self, tag: TlvTag, length: usize) -> bool {
        if self.error.is_some() {
            return false;
        }
        let Ok(length16) = u16::try_from(length) else {
            self.error = Some(TlvError::ValueTooLong { tag, length });
            return false;
        };
        self.buf.reserve(TLV_HEADER_LEN + length);
        self.buf.put_u16(tag.0);
        self.buf.put_u16(length16);
        true
    }

    /// The finished TLVs.
    ///
    /// # Errors
    /// [`TlvError::ValueTooLong`] when a pushed value exceeded 65535 octets.
    pub fn build(self) -> Result<Tlvs, TlvError> {
        match self.error {
            Some(error) => Err(error),
            None => Ok(Tlvs {
                raw: self.buf.freeze(),
                context: None,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(TlvTag::MESSAGE_PAYLOAD.name(), Some("message_payload"));
        assert_eq!(TlvTag(0x0428).name(), Some("congestion_state"));
        assert_eq!(TlvTag(0x1402).name(), None);
        assert!(TlvTag(0x1402).is_vendor_specific());
        assert!(!TlvTag::ITS_SESSION_INFO.is_vendor_specific());
        assert_eq!(TlvTag::ALL_3_4.len(), 44);
        assert_eq!(TlvTag::MESSAGE_STATE.to_string(), "message_state (0x0427)");
    }

    #[test]
    fn build_iterate_and_get() {
        let tlvs = Tlvs::builder()
            .push(Tlv::SarMsgRefNum(0x1234))
            .push(Tlv::SarTotalSegments(3))
            .push(Tlv::SarSegmentSeqnum(1))
            .push(Tlv::ReceiptedMessageId(Bytes::from_static(b"abc")))
            .push_raw(TlvTag(0x1402), b"\x01\x02")
            .push(Tlv::MessageState(2))
            .push(Tlv::MessageState(5))
            .push(Tlv::AlertOnMessageDelivery(()))
            .build()
            .unwrap();
        assert_eq!(
            tlvs.sar(),
            Some(Sar {
                msg_ref_num: 0x1234,
                total_segments: 3,
                segment_seqnum: 1
            })
        );
        assert_eq!(tlvs.receipted_message_id().unwrap(), &b"abc"[..]);
        assert_eq!(
            tlvs.get(TlvTag::RECEIPTED_MESSAGE_ID).unwrap(),
            &b"abc\0"[..]
        );
        assert_eq!(tlvs.message_state(), Some(2), "first duplicate wins");
        assert_eq!(tlvs.iter().count(), 8);
        let typed: Vec<Tlv> = tlvs.typed().collect();
        assert_eq!(
            typed[4],
            Tlv::Unknown {
                tag: TlvTag(0x1402),
                value: Bytes::from_static(b"\x01\x02")
            }
        );
        assert_eq!(typed[7], Tlv::AlertOnMessageDelivery(()));
        let again = Tlvs::parse(tlvs.raw().clone(), Some(CommandId::DeliverSm)).unwrap();
        assert_eq!(again, tlvs);
    }

    #[test]
    fn structure_and_length_errors() {
        let cut = Bytes::from_static(&[0x04, 0x27, 0x00, 0x01]);
        assert_eq!(
            Tlvs::from_raw(cut),
            Err(TlvError::Stream {
                offset: 0,
                reason: "TLV value runs past the end of the PDU"
            })
        );
        let header_cut = Bytes::from_static(&[0x04, 0x27, 0x00, 0x01, 0x02, 0x04]);
        assert!(matches!(
            Tlvs::from_raw(header_cut),
            Err(TlvError::Stream { offset: 5, .. })
        ));
        // message_state with 2 octets: fatal in deliver_sm, ignored where not allowed.
        let long_state = Bytes::from_static(&[0x04, 0x27, 0x00, 0x02, 0x00, 0x02]);
        let err = Tlvs::parse(long_state.clone(), Some(CommandId::DeliverSm)).unwrap_err();
        assert_eq!(err.status(), CommandStatus::ESME_RINVPARLEN);
        let tlvs = Tlvs::parse(long_state, Some(CommandId::SubmitSm)).unwrap();
        assert_eq!(tlvs.message_state(), None);
        // A well-formed but not-allowed tag: visible raw, ignored by the typed getter.
        let state = Bytes::from_static(&[0x04, 0x27, 0x00, 0x01, 0x02]);
        let tlvs = Tlvs::parse(state.clone(), Some(CommandId::SubmitSm)).unwrap();
        assert_eq!(tlvs.message_state(), None);
        assert_eq!(
            tlvs.get(TlvTag::MESSAGE_STATE),
            Some(Bytes::from_static(&[2]))
        );
        assert_eq!(tlvs.context(), Some(CommandId::SubmitSm));
        assert_eq!(Tlvs::from_raw(state).unwrap().message_state(), Some(2));
        // source_telematics_id: either width.
        let one = Bytes::from_static(&[0x00, 0x10, 0x00, 0x01, 0x07]);
        let tlvs = Tlvs::parse(one, Some(CommandId::DataSm)).unwrap();
        assert_eq!(tlvs.typed().next(), Some(Tlv::SourceTelematicsId(7)));
    }

    #[test]
    fn value_too_long() {
        let big = vec![0u8; 65_536];
        let err = Tlvs::builder()
            .push(Tlv::MessagePayload(Bytes::from(big)))
            .build()
            .unwrap_err();
        assert_eq!(
            err,
            TlvError::ValueTooLong {
                tag: TlvTag::MESSAGE_PAYLOAD,
                length: 65_536
            }
        );
    }
}
