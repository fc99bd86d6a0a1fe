//! Blacklists: see the module documentation once written.
