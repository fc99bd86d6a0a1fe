//! `smppgate pdu encode`: JSON objects → hex lines.

use std::process::ExitCode;

/// Encodes every JSON object in `inputs`.
pub(super) fn run<'a>(
    _inputs: impl Iterator<Item = &'a str>,
    _from_stdin: bool,
) -> anyhow::Result<ExitCode> {
    anyhow::bail!("encode waits for the protocol codec")
}
