//! types (to be written).
