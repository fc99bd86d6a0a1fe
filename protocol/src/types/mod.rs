//! Field types shared by the PDU bodies: C-octet string limits, addresses, time strings,
//! and the bit-field octets esm_class, registered_delivery and data_coding (reference §5).

pub mod address;
pub mod c_octet;
pub mod data_coding;
pub mod esm_class;
pub mod registered_delivery;
pub mod time;

pub use address::{Address, Npi, Ton};
pub use data_coding::DataCoding;
pub use esm_class::EsmClass;
pub use registered_delivery::{RegisteredDelivery, SmscReceipt};
pub use time::{AbsoluteTime, RelativeTime, SmppTime, TimeError, TimeValue, UtcOffsetSign};
