//! pdu (to be written).
