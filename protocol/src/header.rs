//! header (to be written).
