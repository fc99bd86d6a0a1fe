//! A policy for tests of deferred messages.

use smppgate::gateway::policy::{Decision, Policy, PolicyRequest};

/// Defers texts starting with `prefix` until the wall time `until`; accepts the rest.
pub(crate) struct DeferPrefix {
    pub(crate) prefix: &'static [u8],
    pub(crate) until: u64,
}

impl Policy for DeferPrefix {
    fn check(&self, request: &PolicyRequest<'_>) -> Decision {
        if request.submit_sm.short_message.starts_with(self.prefix) {
            Decision::Defer {
                until: self.until,
                rule: "test".into(),
            }
        } else {
            Decision::Accept
        }
    }
}
