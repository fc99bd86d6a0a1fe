//! PDU ↔ JSON mapping (waits for the protocol types).
