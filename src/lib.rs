//! smppgate: a carrier-grade SMPP 3.4 gateway.
//!
//! The protocol lives in the `smppgate-protocol` crate (sans-IO); this crate holds the tokio
//! side: the connection driver, server, carrier pools, store and CLI.
#![forbid(unsafe_code)]

pub mod carrier;
pub mod cli;
pub mod clock;
pub mod config;
pub mod conn;
pub mod esme;
pub mod gateway;
pub mod http;
pub mod numbers;
pub mod policy;
pub mod shutdown;
pub mod sim;
pub mod smsc;
pub mod stats;
pub mod store;
