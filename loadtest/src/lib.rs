//! `smpp-loadtest`: drives any SMPP server through N binds with a window each, closed loop
//! (`--rate max`) or open loop at a fixed rate with coordinated-omission correction, and
//! reports throughput, HDR latency percentiles (submit→resp, submit→receipt), errors by
//! status and receipt matching, as a human summary, JSON and a self-contained HTML page.

pub mod args;
pub mod engine;
pub mod format;
pub mod html;
pub mod mix;
pub mod progress;
pub mod receipts;
pub mod report;
pub mod svg;
pub mod timeline;

pub use args::Args;
