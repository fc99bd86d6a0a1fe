//! `smppgate receipt` (to be written).

use std::process::ExitCode;

use clap::Args;

/// Arguments of `smppgate receipt`.
#[derive(Debug, Args)]
pub struct ReceiptArgs {
    /// Raw arguments (placeholder).
    pub rest: Vec<String>,
}

/// Runs `smppgate receipt`.
pub fn run(_args: ReceiptArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("smppgate receipt is not written yet")
}
