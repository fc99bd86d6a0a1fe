//! Sensitive content: see the module documentation once written.
