// Helpers shared by the node `smpp` peer scripts: argument parsing, the test texts,
// splitting into UDH parts, receipt parsing and a reassembler for the server side.
'use strict';

// `--key value` and `--flag` options after positional arguments.
function parseArgs(argv, defaults) {
  const opts = Object.assign({}, defaults);
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const key = a.slice(2).replace(/-/g, '_');
    if (!(key in opts)) {
      throw new Error('unknown option ' + a);
    }
    if (typeof opts[key] === 'boolean') {
      opts[key] = true;
    } else {
      const v = argv[++i];
      if (v === undefined) throw new Error('missing value for ' + a);
      opts[key] = typeof opts[key] === 'number' ? Number(v) : v;
    }
  }
  return { opts, positional };
}

// A GSM text whose characters are all the same byte in ASCII and in the GSM 03.38 default
// alphabet (unpacked), so byte counts and decoding are unambiguous.
function gsmText(len) {
  const base = 'GSM interop long message from a third party peer 0123456789. ';
  let s = '';
  while (s.length < len) s += base;
  return s.slice(0, len);
}

// Chinese text (UCS-2, no surrogates).
function chineseText(len) {
  const base = '中文长短信互通测试，第三方客户端发送。';
  let s = '';
  while (s.length < len) s += base;
  return s.slice(0, len);
}

function encodeUcs2(text) {
  const b = Buffer.from(text, 'utf16le');
  b.swap16();
  return b;
}

function decodeUcs2(buf) {
  const b = Buffer.from(buf);
  if (b.length % 2) throw new Error('odd UCS-2 length');
  b.swap16();
  return b.toString('utf16le');
}

// Splits a text into short_message buffers with an 8-bit concatenation UDH when it does
// not fit one message. coding: 'gsm' (data_coding 0, ASCII-safe text) or 'ucs2' (8).
function makeParts(text, coding, ref) {
  const payload = coding === 'gsm' ? Buffer.from(text, 'ascii') : encodeUcs2(text);
  const single = coding === 'gsm' ? 160 : 140;
  const per = coding === 'gsm' ? 153 : 134;
  const dataCoding = coding === 'gsm' ? 0 : 8;
  if (payload.length <= single) {
    return [{ short_message: payload, esm_class: 0, data_coding: dataCoding }];
  }
  const chunks = [];
  for (let i = 0; i < payload.length; i += per) chunks.push(payload.subarray(i, i + per));
  return chunks.map((chunk, i) => ({
    short_message: Buffer.concat([
      Buffer.from([0x05, 0x00, 0x03, ref & 0xff, chunks.length, i + 1]),
      chunk,
    ]),
    esm_class: 0x40,
    data_coding: dataCoding,
  }));
}

// `id:X sub:... stat:DELIVRD err:000 text:...` → {id, stat, err, ...}.
function parseReceipt(text) {
  const out = {};
  const re = /(id|sub|dlvrd|submit date|done date|stat|err):(\S*)/gi;
  let m;
  while ((m = re.exec(text)) !== null) out[m[1].toLowerCase().replace(' ', '_')] = m[2];
  const t = text.match(/text:(.*)$/is);
  if (t) out.text = t[1];
  return out;
}

module.exports = {
  parseArgs,
  gsmText,
  chineseText,
  encodeUcs2,
  decodeUcs2,
  makeParts,
  parseReceipt,
};
