//! The policy hook of intake: every message, after the account's own checks and before it
//! is persisted, is shown to a [`Policy`] that accepts it, refuses it with a status and a
//! reason, or defers it to a later time (it is then accepted, stored, and sent no earlier
//! than that). The market rules (opt-out, blacklists, quiet hours, caps, content) plug in
//! here; [`PassThrough`] accepts everything.

use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::SubmitSm;

use super::accounts::Account;
use crate::clock::WallMillis;
use crate::config::Class;
use crate::policy::segments::PartOf;
use crate::store::CapWindow;

/// What a policy sees of a message.
#[derive(Debug)]
pub struct PolicyRequest<'a> {
    /// The account submitting.
    pub account: &'a Account,
    /// Its traffic class.
    pub class: Class,
    /// The destination in E.164 digits (no `+`).
    pub destination: &'a str,
    /// The request as received.
    pub submit_sm: &'a SubmitSm,
    /// How many parts it is sent as.
    pub parts: usize,
    /// Now, wall clock.
    pub now: WallMillis,
}

/// A policy's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Go on.
    Accept,
    /// Refuse with `status`; `rule` names the rule for the log and the metrics.
    Reject {
        /// The submit_sm_resp status.
        status: CommandStatus,
        /// The rule that refused it.
        rule: String,
    },
    /// Refuse, but answer ESME_ROK and then a `stat:REJECTD` receipt whose `err:` is
    /// `status`'s code (`reject_with = "receipt"`): the message is stored, final, and
    /// never sent.
    RejectByReceipt {
        /// The status whose code the receipt's `err:` carries.
        status: CommandStatus,
        /// The rule that refused it.
        rule: String,
    },
    /// Accept (durable before the answer like any accepted message) but keep out of
    /// dispatch for an operator's review (`sensitive_action = "hold"`): `smppgate review
    /// release` sends it, `review refuse` ends it with a `stat:REJECTD` receipt.
    Hold {
        /// The rule that held it.
        rule: String,
        /// What matched (the sensitive word), for the send log and `review list`.
        word: String,
        /// Once released, not sent before this time (quiet hours; 0: at once).
        until: WallMillis,
    },
    /// Accept, keep in the store, send at `until` or later.
    Defer {
        /// Not before this time.
        until: WallMillis,
        /// The rule that deferred it.
        rule: String,
    },
}

/// How a client-segmented message judged whole ends (see `policy/segments.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Whole {
    /// Every part goes.
    Release,
    /// Every part ends `stat:REJECTD` with `err:` the status's code.
    Refuse {
        /// The status whose code the receipts carry.
        status: CommandStatus,
        /// The rule, for the log and the metrics.
        rule: String,
        /// What matched.
        word: String,
    },
    /// Every part is held for an operator's review.
    Hold {
        /// What matched.
        word: String,
    },
}

/// A place a message takes in its policy's frequency caps, counted in the cluster's
/// shared counters (`[cluster]`): the policy has judged everything else; intake takes the
/// place ([`CapClaim::take`]) before the message is stored, and refuses it when a cap is
/// full on any node's count.
#[derive(Debug, Clone)]
pub struct CapClaim {
    /// The account's policy (its caps judge).
    pub policy: std::sync::Arc<crate::policy::engine::CompiledPolicy>,
    /// The account.
    pub account: std::sync::Arc<str>,
    /// The destination, as the caps key it.
    pub number: u64,
    /// The message's class.
    pub class: Class,
    /// When it will be sent.
    pub at: WallMillis,
}

/// The hook. Called on the submitting connection's task: must be quick.
pub trait Policy: Send + Sync + 'static {
    /// The decision for one message.
    fn check(&self, request: &PolicyRequest<'_>) -> Decision;

    /// The message as it must be sent, when the policy changes it (an opt-out text
    /// appended); `None`: as it came. Called before the message is split, so the parts
    /// counted, charged, checked and stored are those of what is sent.
    fn rewrite(
        &self,
        _account: &Account,
        _class: Class,
        _submit_sm: &SubmitSm,
    ) -> Option<SubmitSm> {
        None
    }

    /// The part of a client-segmented message that `request` is, when the policy judges
    /// such messages whole: intake then stores it awaiting the rest of its message
    /// (`gateway/assembly.rs`). `None` by default.
    fn part_of(&self, _request: &PolicyRequest<'_>) -> Option<PartOf> {
        None
    }

    /// The judgement of a whole client-segmented message of `account`: `texts` are the
    /// runs of consecutive parts' text. Releases by default.
    fn judge_whole(&self, _account: &Account, _texts: &[String]) -> Whole {
        Whole::Release
    }

    /// The place `request` must take in shared cap counters, when its caps count in the
    /// cluster's rather than here (only once [`Policy::check`] accepted it). None by
    /// default.
    fn cap_claim(&self, _request: &PolicyRequest<'_>) -> Option<CapClaim> {
        None
    }

    /// The frequency-cap counters changed since the last call, for the store (see
    /// `policy/caps.rs`): housekeeping saves them every few minutes so that a cap window
    /// longer than the send log's retention survives a restart. None by default.
    fn cap_changes(&self, _now: WallMillis) -> Vec<CapWindow> {
        Vec::new()
    }

    /// The market-rules engine behind this hook, when it is one: the admin API looks
    /// numbers up in its blacklists and reloads them.
    fn engine(
        self: std::sync::Arc<Self>,
    ) -> Option<std::sync::Arc<crate::policy::engine::PolicyEngine>> {
        None
    }
}

/// Accepts everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct PassThrough;

impl Policy for PassThrough {
    fn check(&self, _request: &PolicyRequest<'_>) -> Decision {
        Decision::Accept
    }
}
