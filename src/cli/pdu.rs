//! `smppgate pdu` (to be written).

use std::process::ExitCode;

use clap::Args;

/// Arguments of `smppgate pdu`.
#[derive(Debug, Args)]
pub struct PduArgs {
    /// Raw arguments (placeholder).
    pub rest: Vec<String>,
}

/// Runs `smppgate pdu`.
pub fn run(_args: PduArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("smppgate pdu is not written yet")
}
