//! `smppgate text`: encode and split text into SMS parts, printed as JSON.

use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};
use smppgate_protocol::text::{
    Coding, Encoding, NationalLanguage, ReferenceGenerator, SplitMethod, SplitOptions, TextConfig,
    split,
};

/// Arguments of `smppgate text`.
#[derive(Debug, Args)]
pub struct TextArgs {
    /// What to do with the text.
    #[command(subcommand)]
    pub command: TextCommand,
}

/// `smppgate text` subcommands.
#[derive(Debug, Subcommand)]
pub enum TextCommand {
    /// Encode TEXT and split it into parts (UDH / SAR / message_payload), printed as JSON.
    Split(SplitArgs),
}

/// Arguments of `smppgate text split`.
#[derive(Debug, Args)]
pub struct SplitArgs {
    /// Coding: `auto` is GSM 7-bit when every character fits, else UCS-2.
    #[arg(long, value_enum, default_value_t = CodingArg::Auto)]
    pub coding: CodingArg,
    /// How long messages are carried.
    #[arg(long, value_enum, default_value_t = MethodArg::Udh8)]
    pub method: MethodArg,
    /// Pack GSM 7-bit septets (8 in 7 octets) instead of one septet per octet.
    #[arg(long)]
    pub packed: bool,
    /// National language whose GSM shift tables may be used (UDH methods only).
    #[arg(long, value_enum)]
    pub national: Option<NationalArg>,
    /// First concatenation reference to use.
    #[arg(long = "ref", default_value_t = 1)]
    pub reference: u16,
    /// The message text.
    pub text: String,
}

/// `--coding` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CodingArg {
    /// GSM 7-bit if possible, else UCS-2.
    Auto,
    /// GSM 03.38 (error on other characters).
    Gsm7,
    /// UCS-2 / UTF-16BE.
    Ucs2,
    /// ISO-8859-1 (error on other characters).
    Latin1,
    /// ASCII (error on other characters).
    Ascii,
}

/// `--national` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NationalArg {
    /// Turkish single and locking shift tables.
    Turkish,
    /// Spanish single shift table.
    Spanish,
    /// Portuguese single and locking shift tables.
    Portuguese,
}

/// `--method` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    /// UDH with an 8-bit reference.
    Udh8,
    /// UDH with a 16-bit reference.
    Udh16,
    /// SAR TLVs.
    Sar,
    /// One message_payload TLV.
    Payload,
}

/// Runs `smppgate text`.
///
/// # Errors
/// When the text cannot be encoded in the forced coding (naming the character and its
/// position) or needs more than 255 parts.
pub fn run(args: TextArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        TextCommand::Split(split_args) => {
            let value = split_json(&split_args)?;
            println!("{}", serde_json::to_string_pretty(&value)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The JSON document `text split` prints.
///
/// # Errors
/// See [`run`].
pub fn split_json(args: &SplitArgs) -> anyhow::Result<Value> {
    let options = SplitOptions {
        coding: match args.coding {
            CodingArg::Auto => Coding::Auto,
            CodingArg::Gsm7 => Coding::Gsm7,
            CodingArg::Ucs2 => Coding::Ucs2,
            CodingArg::Latin1 => Coding::Latin1,
            CodingArg::Ascii => Coding::Ascii,
        },
        method: match args.method {
            MethodArg::Udh8 => SplitMethod::Udh8,
            MethodArg::Udh16 => SplitMethod::Udh16,
            MethodArg::Sar => SplitMethod::Sar,
            MethodArg::Payload => SplitMethod::MessagePayload,
        },
        config: TextConfig {
            packed_gsm7: args.packed,
            ..TextConfig::default()
        },
        national_language: args.national.map(|n| match n {
            NationalArg::Turkish => NationalLanguage::Turkish,
            NationalArg::Spanish => NationalLanguage::Spanish,
            NationalArg::Portuguese => NationalLanguage::Portuguese,
        }),
    };
    let message = split(
        &args.text,
        &options,
        &mut ReferenceGenerator::new(args.reference),
    )?;
    let parts: Vec<Value> = message
        .parts
        .iter()
        .map(|part| {
            json!({
                "udh": part.udh.map(|u| hex::encode(u.as_bytes())),
                "sar": part.sar.map(|s| json!({
                    "ref": s.msg_ref_num,
                    "total": s.total_segments,
                    "seq": s.segment_seqnum,
                })),
                "udhi": part.udhi(),
                "payload": hex::encode(&part.payload),
                "text": part.text,
            })
        })
        .collect();
    Ok(json!({
        "data_coding": message.data_coding,
        "encoding": message.encoding.name(),
        "packed": args.packed && message.encoding == Encoding::Gsm7,
        "parts": parts,
    }))
}
