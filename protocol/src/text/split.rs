//! Splitting a message into concatenated parts (reference §7.1–7.5).

use super::coding::{self, Coding, DefaultAlphabet, Encoding, TextConfig};
use super::gsm7::GsmChar;
use super::national::{NationalLanguage, ShiftTables};
use super::udh::{Concat, UdhBytes};
use super::{ReferenceGenerator, TextError, gsm7};

/// Most parts one message may have (the UDH / SAR total is one octet).
pub const MAX_PARTS: usize = 255;
/// Largest message_payload value (16-bit TLV length).
pub const MAX_MESSAGE_PAYLOAD: usize = 65_535;

/// How a long message is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SplitMethod {
    /// UDH IEI 0x00, 8-bit reference (6-octet UDH), esm_class UDHI set.
    #[default]
    Udh8,
    /// UDH IEI 0x08, 16-bit reference (7-octet UDH), esm_class UDHI set.
    Udh16,
    /// SAR TLVs (`sar_msg_ref_num`, `sar_total_segments`, `sar_segment_seqnum`); no UDH,
    /// no UDHI. Parts are sized like 8-bit-reference UDH parts, since the SMSC adds that
    /// header on the air interface.
    Sar,
    /// The whole message in one `message_payload` TLV (sm_length 0); the SMSC splits.
    MessagePayload,
}

/// The SAR TLV triple of one part (SMPP 3.4 §5.3.2.22–24).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SarInfo {
    /// `sar_msg_ref_num` (0x020C).
    pub msg_ref_num: u16,
    /// `sar_total_segments` (0x020E).
    pub total_segments: u8,
    /// `sar_segment_seqnum` (0x020F), 1-based.
    pub segment_seqnum: u8,
}

/// One part of a split message, ready to go into a PDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Concatenation UDH to put in front of the payload (then set esm_class UDHI 0x40).
    pub udh: Option<UdhBytes>,
    /// Encoded text after the UDH (packed septets when the link packs GSM 7-bit).
    pub payload: Vec<u8>,
    /// SAR TLVs to attach, when splitting with [`SplitMethod::Sar`].
    pub sar: Option<SarInfo>,
    /// The characters this part carries.
    pub text: String,
    /// Septets in `payload` when it is GSM 7-bit (packed or not); a receiver of packed data
    /// needs it to tell a final `CR` from padding.
    pub septets: Option<usize>,
}

impl Part {
    /// Whether esm_class UDHI (0x40) must be set for this part.
    #[must_use]
    pub const fn udhi(&self) -> bool {
        self.udh.is_some()
    }

    /// The esm_class bits this part needs (0x40 or 0), to OR into the caller's esm_class.
    #[must_use]
    pub const fn esm_class_flags(&self) -> u8 {
        if self.udhi() { 0x40 } else { 0 }
    }

    /// UDH followed by payload: the short_message (or message_payload) octets.
    #[must_use]
    pub fn user_data(&self) -> Vec<u8> {
        let udh = self.udh.as_ref().map_or(&[][..], UdhBytes::as_bytes);
        let mut out = Vec::with_capacity(udh.len() + self.payload.len());
        out.extend_from_slice(udh);
        out.extend_from_slice(&self.payload);
        out
    }
}

/// How to split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SplitOptions {
    /// Requested coding.
    pub coding: Coding,
    /// Carriage of long messages.
    pub method: SplitMethod,
    /// Link settings (data_coding 0 meaning, packed GSM 7-bit).
    pub config: TextConfig,
    /// A national language whose shift tables (TS 23.038 Annex A) may be used when the
    /// text does not fit the default GSM alphabet, with UDH methods only (the tables are
    /// announced by UDH IEs 0x24 / 0x25, which SAR and message_payload cannot carry).
    pub national_language: Option<NationalLanguage>,
}

/// A message split into parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMessage {
    /// data_coding for every part.
    pub data_coding: u8,
    /// The encoding used.
    pub encoding: Encoding,
    /// The parts, in order (one part: no UDH, no SAR).
    pub parts: Vec<Part>,
}

/// Capacity in units (septets, UTF-16 code units or octets) of one message and of one part.
#[must_use]
pub const fn capacity(encoding: Encoding, method: SplitMethod) -> (usize, usize) {
    let (single, udh8, udh16) = match encoding {
        Encoding::Gsm7 => (160, 153, 152),
        Encoding::Ucs2 => (70, 67, 66),
        Encoding::Latin1 | Encoding::Ascii | Encoding::Binary => (140, 134, 133),
    };
    match method {
        SplitMethod::Udh8 | SplitMethod::Sar => (single, udh8),
        SplitMethod::Udh16 => (single, udh16),
        SplitMethod::MessagePayload => (usize::MAX, usize::MAX),
    }
}

/// Septets that fit in the 140-octet user data after a UDH of `udh_octets` octets (UDHL
/// included), counting its fill bits: 153 after 6, 152 after 7, 155 after 4.
#[must_use]
pub const fn septet_capacity(udh_octets: usize) -> usize {
    (8 * (140 - udh_octets)) / 7
}

/// Splits `text` into parts, each within its capacity, never splitting a GSM escape pair
/// or a UTF-16 surrogate pair (a part then carries one unit fewer). A reference is taken
/// from `references` only when there is more than one part.
///
/// # Errors
/// * [`TextError::Unrepresentable`] when a forced coding cannot carry a character;
/// * [`TextError::TooManyParts`] beyond 255 parts;
/// * [`TextError::PayloadTooLong`] when a message_payload would exceed 65 535 octets.
pub fn split(
    text: &str,
    options: &SplitOptions,
    references: &mut ReferenceGenerator,
) -> Result<SplitMessage, TextError> {
    let config = options.config;
    let udh_method = matches!(options.method, SplitMethod::Udh8 | SplitMethod::Udh16);
    // National shift tables only when GSM 7-bit is wanted and the default tables do not fit.
    let national = match (options.national_language, options.coding) {
        (Some(language), Coding::Auto | Coding::Gsm7)
            if udh_method
                && config.default_alphabet == DefaultAlphabet::Gsm7
                && !text.chars().all(gsm7::is_gsm7) =>
        {
            ShiftTables::choose(text, &[language])
        }
        _ => None,
    };
    let (encoding, tables) = match national {
        Some(tables) => (Encoding::Gsm7, tables),
        None => (
            coding::resolve_coding(text, options.coding, config.default_alphabet)?,
            ShiftTables::DEFAULT,
        ),
    };
    let data_coding = coding::data_coding_for(encoding, config.default_alphabet);
    let (mut single, mut per_part) = capacity(encoding, options.method);
    let shift_octets = tables.udh_octets();
    if shift_octets > 0 {
        let concat_octets = if options.method == SplitMethod::Udh16 {
            6
        } else {
            5
        };
        single = septet_capacity(1 + shift_octets);
        per_part = septet_capacity(1 + concat_octets + shift_octets);
    }
    let units = |c: char| match encoding {
        Encoding::Gsm7 if shift_octets > 0 => tables.lookup(c).map_or(1, GsmChar::septets),
        _ => coding::char_units(c, encoding),
    };
    let shift_udh = |mut udh: UdhBytes| {
        for element in tables.elements() {
            udh.push_element(element[0], &element[2..]);
        }
        udh
    };

    let total_units: usize = text.chars().map(units).sum();
    let packed = encoding == Encoding::Gsm7 && config.packed_gsm7;
    if total_units <= single {
        let udh = (shift_octets > 0).then(|| shift_udh(UdhBytes::new()));
        let part = build_part(text, encoding, tables, packed, udh, None)?;
        if options.method == SplitMethod::MessagePayload && part.payload.len() > MAX_MESSAGE_PAYLOAD
        {
            return Err(TextError::PayloadTooLong {
                octets: part.payload.len(),
                max: MAX_MESSAGE_PAYLOAD,
            });
        }
        return Ok(SplitMessage {
            data_coding,
            encoding,
            parts: vec![part],
        });
    }

    // Byte offsets where each part ends; a character never straddles two parts. Past 255
    // parts only the count goes on, so a huge text costs no memory before the error.
    let mut ends = Vec::with_capacity((total_units / per_part + 1).min(MAX_PARTS));
    let mut count = 1;
    let mut used = 0;
    for (offset, c) in text.char_indices() {
        let cost = units(c);
        if used + cost > per_part {
            if count < MAX_PARTS {
                ends.push(offset);
            }
            count += 1;
            used = 0;
        }
        used += cost;
    }
    if count > MAX_PARTS {
        return Err(TextError::TooManyParts {
            parts: count,
            max: MAX_PARTS,
        });
    }
    ends.push(text.len());
    let total = u8::try_from(ends.len()).unwrap_or(u8::MAX);
    let reference = match options.method {
        SplitMethod::Udh8 => u16::from(references.next_8bit()),
        _ => references.next_16bit(),
    };

    let mut parts = Vec::with_capacity(ends.len());
    let mut start = 0;
    for (index, &end) in ends.iter().enumerate() {
        let seq = u8::try_from(index + 1).unwrap_or(u8::MAX);
        let (udh, sar) = if udh_method {
            let concat = Concat {
                reference,
                wide_reference: options.method == SplitMethod::Udh16,
                total,
                seq,
            };
            (Some(shift_udh(UdhBytes::concat(concat))), None)
        } else {
            let sar = SarInfo {
                msg_ref_num: reference,
                total_segments: total,
                segment_seqnum: seq,
            };
            (None, Some(sar))
        };
        parts.push(build_part(
            &text[start..end],
            encoding,
            tables,
            packed,
            udh,
            sar,
        )?);
        start = end;
    }
    Ok(SplitMessage {
        data_coding,
        encoding,
        parts,
    })
}

/// Encodes one part.
fn build_part(
    text: &str,
    encoding: Encoding,
    tables: ShiftTables,
    packed: bool,
    udh: Option<UdhBytes>,
    sar: Option<SarInfo>,
) -> Result<Part, TextError> {
    let mut payload = Vec::with_capacity(2 * text.len());
    if encoding == Encoding::Gsm7 && !tables.is_default() {
        tables.encode_into(text, &mut payload)?;
    } else {
        coding::encode_into(text, encoding, &mut payload)?;
    }
    let septets = (encoding == Encoding::Gsm7).then_some(payload.len());
    if packed {
        let udh_len = udh.as_ref().map_or(0, |u| u.as_bytes().len());
        payload = gsm7::pack_septets(&payload, gsm7::fill_bits(udh_len));
    }
    Ok(Part {
        udh,
        payload,
        sar,
        text: text.to_owned(),
        septets,
    })
}

/// Splits binary data (data_coding 2 / 4) into parts of 140 / 134 / 133 octets.
///
/// # Errors
/// [`TextError::TooManyParts`] beyond 255 parts; [`TextError::PayloadTooLong`] for a
/// message_payload over 65 535 octets.
pub fn split_binary(
    data: &[u8],
    data_coding: u8,
    method: SplitMethod,
    references: &mut ReferenceGenerator,
) -> Result<SplitMessage, TextError> {
    let (single, per_part) = capacity(Encoding::Binary, method);
    let one = |payload: &[u8]| Part {
        udh: None,
        payload: payload.to_vec(),
        sar: None,
        text: String::new(),
        septets: None,
    };
    if data.len() <= single {
        if method == SplitMethod::MessagePayload && data.len() > MAX_MESSAGE_PAYLOAD {
            return Err(TextError::PayloadTooLong {
                octets: data.len(),
                max: MAX_MESSAGE_PAYLOAD,
            });
        }
        return Ok(SplitMessage {
            data_coding,
            encoding: Encoding::Binary,
            parts: vec![one(data)],
        });
    }
    let count = data.len().div_ceil(per_part);
    let total = u8::try_from(count).map_err(|_| TextError::TooManyParts {
        parts: count,
        max: MAX_PARTS,
    })?;
    let wide = method != SplitMethod::Udh8;
    let reference = if wide {
        references.next_16bit()
    } else {
        u16::from(references.next_8bit())
    };
    let parts = data
        .chunks(per_part)
        .zip(1..=total)
        .map(|(chunk, seq)| {
            let mut part = one(chunk);
            if method == SplitMethod::Sar {
                part.sar = Some(SarInfo {
                    msg_ref_num: reference,
                    total_segments: total,
                    segment_seqnum: seq,
                });
            } else {
                part.udh = Some(UdhBytes::concat(Concat {
                    reference,
                    wide_reference: wide,
                    total,
                    seq,
                }));
            }
            part
        })
        .collect();
    Ok(SplitMessage {
        data_coding,
        encoding: Encoding::Binary,
        parts,
    })
}
