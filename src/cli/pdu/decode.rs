//! The decode loops: a hex buffer (strict, or `--stream`) and the TCP streams of a capture.
//!
//! Both feed the core's [`FrameDecoder`] (framing by command_length only, capped at
//! [`DEFAULT_MAX_FRAME`](smppgate_protocol::codec::DEFAULT_MAX_FRAME)) and print one JSON
//! line per frame: the PDU, or in stream mode an `{"error": …}` line for a frame that was
//! consumed whole but could not be decoded.

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;
use bytes::BytesMut;
use serde_json::Value;
use smppgate_protocol::{DecodeError, FrameDecoder, FrameError, HEADER_LEN};

use super::json::pdu_to_json;
use super::json_fields::Writer;
use super::pcap::{Flow, FlowKey, Reassembler, read_capture};

/// What the frame decoder made of the front of a buffer.
enum Step {
    /// Not enough octets for the next frame (or none left).
    NeedMore,
    /// A frame of `len` octets decoded to this JSON object.
    Pdu { len: usize, json: Writer },
    /// A frame of `len` octets that is not a valid PDU; the stream goes on after it.
    Bad { len: usize, error: DecodeError },
}

/// Takes the next frame off `buf`.
fn step(decoder: &mut FrameDecoder, buf: &mut BytesMut) -> Result<Step, FrameError> {
    let before = buf.len();
    let Some(result) = decoder.decode(buf)? else {
        return Ok(Step::NeedMore);
    };
    let len = before - buf.len();
    Ok(match result {
        Ok(pdu) => Step::Pdu {
            len,
            json: pdu_to_json(&pdu, len),
        },
        Err(error) => Step::Bad { len, error },
    })
}

/// Decodes a buffer of consecutive PDUs. Without `stream`, the first bad PDU is an error;
/// with it, only framing errors and a truncated last frame are.
pub(super) fn buffer(bytes: &[u8], stream: bool) -> anyhow::Result<ExitCode> {
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut decoder = FrameDecoder::default();
    let mut buf = BytesMut::from(bytes);
    let mut offset = 0;
    loop {
        let step = match step(&mut decoder, &mut buf) {
            Ok(step) => step,
            Err(error) => {
                out.flush()?;
                bail!("framing error at input offset {offset}: {error}");
            }
        };
        match step {
            Step::NeedMore => {
                if !buf.is_empty() {
                    out.flush()?;
                    bail!("{}", truncated(&format!("input offset {offset}"), &buf));
                }
                break;
            }
            Step::Pdu { len, json } => {
                writeln!(out, "{}", json.to_line())?;
                offset += len;
            }
            Step::Bad { len, error } => {
                if !stream {
                    out.flush()?;
                    bail!("PDU at input offset {offset}: {error}");
                }
                writeln!(
                    out,
                    "{}",
                    error_line(&error.to_string(), &error, None).to_line()
                )?;
                offset += len;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Describes an incomplete final frame at `place`: how many octets are missing.
fn truncated(place: &str, rest: &[u8]) -> String {
    match rest.get(..4) {
        Some(length) => {
            let length = u32::from_be_bytes([length[0], length[1], length[2], length[3]]);
            let missing = usize::try_from(length)
                .unwrap_or(usize::MAX)
                .saturating_sub(rest.len());
            format!(
                "truncated PDU at {place}: command_length {length} but only {} octets follow; \
                 {missing} octets missing",
                rest.len()
            )
        }
        None => format!(
            "truncated PDU at {place}: {} octets, a header needs {HEADER_LEN}; at least {} octets missing",
            rest.len(),
            HEADER_LEN - rest.len()
        ),
    }
}

/// `{"error": …, "command_id": "0x…", "sequence_number": N}` for a frame that did not
/// decode; capture lines get src/dst/frame first.
fn error_line(
    message: &str,
    error: &DecodeError,
    place: Option<(&FlowKey, Option<u64>)>,
) -> Writer {
    let mut line = Writer::default();
    if let Some((key, frame)) = place {
        write_place(&mut line, key, frame);
    }
    line.value("error", Value::String(message.to_owned()));
    line.value(
        "command_id",
        Value::String(format!("{:#010x}", error.command_id())),
    );
    line.int("sequence_number", error.sequence_number());
    line
}

fn write_place(line: &mut Writer, key: &FlowKey, frame: Option<u64>) {
    line.value("src", Value::String(key.src.to_string()));
    line.value("dst", Value::String(key.dst.to_string()));
    if let Some(frame) = frame {
        line.int("frame", frame);
    }
}

/// Decodes the SMPP PDUs carried in a capture's TCP streams. Each PDU (or error) is printed
/// as soon as the segment completing it is read, so lines follow capture order. Bad PDUs
/// and non-SMPP flows give error lines; the exit status is 0 once the file could be read.
pub(super) fn pcap(path: &Path) -> anyhow::Result<ExitCode> {
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut reassembler = Reassembler::default();
    let mut decoders = HashMap::<FlowKey, FrameDecoder>::new();
    read_capture(path, |datalink, frame, data| {
        let Some(arrival) = reassembler.packet(datalink, frame, data) else {
            return Ok(());
        };
        if let Some(old) = arrival.restarted {
            finish_flow(&mut out, &old)?;
        }
        let Some(flow) = reassembler.flow_mut(arrival.key) else {
            return Ok(());
        };
        if let Some(message) = arrival.broken {
            writeln!(out, "{}", flow_error(flow, &message, Some(frame)).to_line())?;
        }
        let decoder = decoders.entry(arrival.key).or_default();
        drain_flow(&mut out, decoder, flow)
    })?;
    if reassembler.fragments > 0 {
        eprintln!(
            "warning: {} IP fragments skipped (IP fragment reassembly is not supported)",
            reassembler.fragments
        );
    }
    for (link, frames) in &reassembler.unsupported_links {
        eprintln!("warning: {frames} frames of link type {link} skipped (not supported)");
    }
    for flow in reassembler.into_flows() {
        finish_flow(&mut out, &flow)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Prints every complete PDU at the front of the flow's reassembled bytes.
fn drain_flow(
    out: &mut impl Write,
    decoder: &mut FrameDecoder,
    flow: &mut Flow,
) -> anyhow::Result<()> {
    while !flow.failed {
        let offset = flow.data_start;
        let frame = flow.frame_at(offset);
        match step(decoder, &mut flow.data) {
            Ok(Step::NeedMore) => break,
            Ok(Step::Pdu { len, json }) => {
                let mut line = Writer::default();
                write_place(&mut line, &flow.key, frame);
                line.extend(json);
                writeln!(out, "{}", line.to_line())?;
                flow.advanced(len);
            }
            Ok(Step::Bad { len, error }) => {
                let message = format!("PDU at stream offset {offset}: {error}");
                writeln!(
                    out,
                    "{}",
                    error_line(&message, &error, Some((&flow.key, frame))).to_line()
                )?;
                flow.advanced(len);
            }
            Err(error) => {
                // Not SMPP, or a wild command_length: nothing after this can be framed.
                let start = &flow.data[..flow.data.len().min(8)];
                let message = format!(
                    "framing error at stream offset {offset}: {error} (stream octets there: {}, not SMPP?); \
                     the rest of this direction is not decoded",
                    hex::encode(start)
                );
                writeln!(out, "{}", flow_error(flow, &message, frame).to_line())?;
                flow.failed = true;
                flow.consume(flow.data.len());
            }
        }
    }
    Ok(())
}

/// End of a flow: reports octets that never arrived and an incomplete last PDU.
fn finish_flow(out: &mut impl Write, flow: &Flow) -> anyhow::Result<()> {
    if flow.failed {
        return Ok(());
    }
    if let Some((message, frame)) = flow.missing() {
        writeln!(out, "{}", flow_error(flow, &message, Some(frame)).to_line())?;
    } else if !flow.data.is_empty() {
        let message = truncated(&format!("stream offset {}", flow.data_start), &flow.data);
        writeln!(
            out,
            "{}",
            flow_error(flow, &message, flow.frame_at(flow.data_start)).to_line()
        )?;
    }
    Ok(())
}

/// `{"src", "dst", "frame", "error"}` for a problem with a whole direction.
fn flow_error(flow: &Flow, message: &str, frame: Option<u64>) -> Writer {
    let mut line = Writer::default();
    write_place(&mut line, &flow.key, frame);
    line.value("error", Value::String(message.to_owned()));
    line
}
