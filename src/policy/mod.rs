//! The market rules of issue #15, as building blocks for the gateway's policy hook
//! (`gateway::policy::Policy`): each rule is a self-contained, tested module here; the
//! hook that combines them per `[[policy]]` comes with the rest of that issue.

pub mod blacklist;
pub mod content;
pub mod suppression;
pub mod suppression_control;
