//! command_status (to be written).
