//! `smppgate pdu encode`: JSON objects (as printed by `decode`) → one hex line per PDU.

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use anyhow::Context;
use serde_json::Value;

use super::china::{self, Protocol};
use super::json;

/// Encodes every JSON object in `inputs`: each input holds one or more objects (one per
/// line on stdin; any whitespace between objects is accepted). Errors say where the object
/// came from: `argument N`, or `line N` of stdin.
pub(super) fn run<'a>(
    inputs: impl Iterator<Item = &'a str>,
    from_stdin: bool,
    protocol: Protocol,
) -> anyhow::Result<ExitCode> {
    let mut out = BufWriter::new(std::io::stdout().lock());
    for (index, text) in inputs.enumerate() {
        let mut values = serde_json::Deserializer::from_str(text).into_iter::<Value>();
        // Line counting is incremental: `counted` octets of `text` hold `line - 1` newlines.
        let (mut counted, mut line) = (0, 1);
        loop {
            let start = values.byte_offset();
            let Some(value) = values.next() else { break };
            let label = if from_stdin {
                // The object starts at the first non-whitespace octet after the previous one.
                let begin = text.len() - text[start..].trim_start().len();
                line += text[counted..begin].matches('\n').count();
                counted = begin;
                format!("line {line}")
            } else {
                format!("argument {}", index + 1)
            };
            let value = value.with_context(|| format!("{label}: invalid JSON"))?;
            let mut warnings = Vec::new();
            let octets = if protocol == Protocol::Smpp {
                json::encode(&value, &mut warnings)
            } else {
                china::encode(protocol, &value)
            }
            .with_context(|| label.clone())?;
            for warning in warnings {
                eprintln!("warning: {label}: {warning}");
            }
            writeln!(out, "{}", hex::encode(octets))?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
