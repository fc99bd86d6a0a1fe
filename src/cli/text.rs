//! `smppgate text` (to be written).

use std::process::ExitCode;

use clap::Args;

/// Arguments of `smppgate text`.
#[derive(Debug, Args)]
pub struct TextArgs {
    /// Raw arguments (placeholder).
    pub rest: Vec<String>,
}

/// Runs `smppgate text`.
pub fn run(_args: TextArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("smppgate text is not written yet")
}
