//! tlv (to be written).
