//! The market rules of issue #15 behind the gateway's policy hook
//! (`gateway::policy::Policy`): each rule is a self-contained, tested module here;
//! [`engine`] compiles one policy per `[[policy]]` and runs them in order.

pub mod blacklist;
pub mod caps;
pub mod content;
pub mod engine;
pub mod quiet_hours;
pub mod segments;
pub mod suppression;
pub mod suppression_control;
