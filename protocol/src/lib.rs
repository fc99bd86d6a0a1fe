//! `smppgate-protocol`: SMPP 3.4 without I/O.
//!
//! PDUs, TLVs and statuses, a zero-copy codec, text encodings and segmentation, delivery
//! receipt parsing, and a sans-IO session state machine. Nothing in this crate touches a
//! socket or a clock: bytes come in as `Bytes`, time comes in as an argument.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod china;
pub mod cmpp;
pub mod codec;
pub mod command_id;
pub mod command_status;
pub mod header;
pub mod pdu;
pub mod receipt;
pub mod session;
pub mod sgip;
pub mod smgp;
pub mod text;
pub mod tlv;
pub mod types;

pub use codec::{
    DEFAULT_MAX_FRAME, DecodeError, EncodeError, FrameDecoder, FrameError, decode, encode,
    encode_to_bytes, encoded_len, frame_length,
};
pub use command_id::{CommandId, Sender};
pub use command_status::CommandStatus;
pub use header::{HEADER_LEN, Header};
pub use pdu::{
    AlertNotification, Bind, BindResp, Body, CancelSm, DataSm, DataSmResp, DeliverSm,
    DeliverSmResp, DestAddress, MessageIdResp, Outbind, Pdu, QuerySm, QuerySmResp, ReplaceSm,
    SequenceNumber, ShortMessagePdu, SubmitMulti, SubmitMultiResp, SubmitSm, SubmitSmResp,
    UnsuccessSme,
};
pub use tlv::{Tlv, TlvTag, Tlvs};
pub use types::{Address, DataCoding, EsmClass, Npi, RegisteredDelivery, SmppTime, Ton};
