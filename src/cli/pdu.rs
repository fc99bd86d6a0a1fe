//! `smppgate pdu`: the operator's SMPP microscope.
//!
//! * `decode` turns hex (arguments or stdin) or the TCP streams of a pcap/pcapng capture into
//!   one JSON object per PDU, one per line;
//! * `encode` turns those JSON objects back into hex, byte for byte.
//!
//! The JSON mapping lives in [`json`], capture reading and TCP reassembly in [`pcap`], the
//! decode loops in [`decode`].

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

pub use china::Protocol;

mod china;
mod decode;
mod encode;
mod hex_input;
mod json;
mod json_fields;
mod pcap;

/// Arguments of `smppgate pdu`.
#[derive(Debug, Args)]
#[command(after_long_help = PDU_EXAMPLES, after_help = PDU_EXAMPLES)]
pub struct PduArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: PduCommand,
}

/// `smppgate pdu` subcommands.
#[derive(Debug, Subcommand)]
pub enum PduCommand {
    /// Decode PDUs from hex (arguments or stdin) or from a pcap/pcapng capture into JSON
    /// lines.
    #[command(after_help = DECODE_EXAMPLES)]
    Decode(DecodeArgs),
    /// Encode JSON PDUs (as printed by `decode`) into hex, one line per PDU.
    #[command(after_help = ENCODE_EXAMPLES)]
    Encode(EncodeArgs),
}

/// Arguments of `smppgate pdu decode`.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// Hex of one or more consecutive PDUs; the arguments are concatenated, whitespace is
    /// ignored. Read from stdin when absent.
    #[arg(value_name = "HEX", conflicts_with = "pcap")]
    pub hex: Vec<String>,
    /// Treat the input as a byte stream: a PDU that cannot be decoded (unknown command_id,
    /// bad body) prints an `{"error": …}` line and decoding goes on with the next frame.
    /// Framing errors (command_length < 16 or over the cap) still stop with exit 1.
    #[arg(long)]
    pub stream: bool,
    /// Decode the SMPP PDUs carried in the TCP streams of this capture (pcap or pcapng;
    /// Ethernet, Linux SLL, raw IP or loopback). Implies stream semantics per TCP direction.
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// The protocol of the input: smpp (SMPP 3.4), cmpp2 / cmpp3 (China Mobile), smgp
    /// (China Telecom), sgip (China Unicom). --pcap reads SMPP only.
    #[arg(long, value_enum, default_value_t = Protocol::Smpp, conflicts_with = "pcap")]
    pub protocol: Protocol,
}

/// Arguments of `smppgate pdu encode`.
#[derive(Debug, Args)]
pub struct EncodeArgs {
    /// JSON PDU objects, one per argument. Read from stdin (one object per line) when absent.
    #[arg(value_name = "JSON")]
    pub json: Vec<String>,
    /// The protocol to encode: smpp, cmpp2, cmpp3, smgp or sgip (as for decode).
    #[arg(long, value_enum, default_value_t = Protocol::Smpp)]
    pub protocol: Protocol,
}

const PDU_EXAMPLES: &str = "\
Examples:
  smppgate pdu decode 00000010000000150000000000000001
  smppgate pdu decode --stream < dump.hex
  smppgate pdu decode --pcap capture.pcap
  smppgate pdu encode '{\"command\":\"enquire_link\",\"sequence_number\":1}'
  smppgate pdu decode 00000010000000150000000000000001 | smppgate pdu encode
  smppgate pdu decode --protocol cmpp3 0000000c0000000800000001
  smppgate pdu encode --protocol sgip '{\"command\":\"unbind\"}'";

const DECODE_EXAMPLES: &str = "\
Output: one JSON object per PDU and line: command, command_id, command_length,
command_status, command_status_name, sequence_number, the mandatory fields under their
SMPP 3.4 names (C-strings as Latin-1 strings, octet strings such as short_message as hex),
and tlvs as [{\"tag\":\"0x0424\",\"name\":\"message_payload\",\"value\":\"<hex>\"}, …].
With --pcap every line also has src, dst (ip:port) and frame (1-based capture frame where
the PDU's first octet arrived). Per TCP direction at most 1 MiB of out-of-order data is held.

Examples:
  smppgate pdu decode 00000010000000150000000000000001
      {\"command\":\"enquire_link\",\"command_id\":\"0x00000015\",\"command_length\":16,…}
  echo '00000010 80000015 00000000 00000001' | smppgate pdu decode
  smppgate pdu decode --stream < dump.hex     # keep going after a bad PDU
  smppgate pdu decode --pcap capture.pcap     # PDUs of every TCP stream, with src/dst/frame";

const ENCODE_EXAMPLES: &str = "\
Input: the JSON printed by `decode`, one object per line or argument. command_length,
sm_length, number_of_dests and no_unsuccess are computed (a different value in the input
only gets a warning). Omitted: command_status 0, sequence_number 1, tlvs none; every other
mandatory body field must be present (the error names it). A response with no body field
at all is encoded as a bare 16-octet header. `command_id` may stand in for `command`.

Examples:
  smppgate pdu encode '{\"command\":\"enquire_link\",\"sequence_number\":1}'
      00000010000000150000000000000001
  smppgate pdu decode --pcap capture.pcap | smppgate pdu encode
  smppgate pdu decode 00000010000000150000000000000001 | smppgate pdu encode";

/// Runs `smppgate pdu`.
pub fn run(args: PduArgs) -> anyhow::Result<ExitCode> {
    match dispatch(args) {
        // `… | head` closed stdout: the reader has what it wanted; not an error.
        Err(error) if is_broken_pipe(&error) => Ok(ExitCode::SUCCESS),
        outcome => outcome,
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn dispatch(args: PduArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        PduCommand::Decode(args) => {
            if let Some(path) = &args.pcap {
                return decode::pcap(path);
            }
            let bytes = read_hex(&args.hex)?;
            china::decode(args.protocol, &bytes, args.stream)
        }
        PduCommand::Encode(args) => {
            if args.json.is_empty() {
                let text = read_stdin()?;
                encode::run(std::iter::once(text.as_str()), true, args.protocol)
            } else {
                encode::run(args.json.iter().map(String::as_str), false, args.protocol)
            }
        }
    }
}

/// The octets of the hex arguments, or of stdin when there are none.
fn read_hex(arguments: &[String]) -> anyhow::Result<Vec<u8>> {
    let mut buffer = hex_input::HexBuffer::default();
    if arguments.is_empty() {
        buffer.push(&read_stdin()?, hex_input::Source::Stdin)?;
    } else {
        for (index, argument) in arguments.iter().enumerate() {
            buffer.push(argument, hex_input::Source::Argument(index + 1))?;
        }
    }
    Ok(buffer.finish()?)
}

fn read_stdin() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("cannot read stdin")?;
    Ok(text)
}
