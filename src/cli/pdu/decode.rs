//! The decode loops: a hex buffer (strict or `--stream`) and a capture's TCP streams.

use std::path::Path;
use std::process::ExitCode;

/// Decodes a buffer of consecutive PDUs.
pub(super) fn buffer(_bytes: &[u8], _stream: bool) -> anyhow::Result<ExitCode> {
    anyhow::bail!("decode waits for the protocol codec")
}

/// Decodes the SMPP PDUs in a capture.
pub(super) fn pcap(_path: &Path) -> anyhow::Result<ExitCode> {
    anyhow::bail!("decode --pcap waits for the protocol codec")
}
