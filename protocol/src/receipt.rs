//! receipt (to be written).
