//! command_id (to be written).
