#!/usr/bin/env node
// An ESME written with the npm `smpp` package, for interop tests.
//
//   node node_client.js HOST PORT [--mode trx|tx-rx] [--system-id ID] [--password PW]
//                       [--gsm-len 400] [--ucs2-len 150] [--no-receipts] [--extras]
//                       [--wait-unbind] [--timeout-ms 20000]
//
// trx: one bind_transceiver. tx-rx: a bind_receiver, then a bind_transmitter with the same
// system_id (receipts are expected on the receiver). Submits a long GSM and a long UCS-2
// (Chinese) message split into parts with an 8-bit concatenation UDH, asks for receipts,
// waits for one receipt per accepted part (receipted_message_id and the text's id: both must
// be the submit_sm_resp's message_id), answers them, sends enquire_link and unbinds every
// session. With --extras, also sends (after the receipts) a query_sm for the first id, a
// data_sm (message_payload) and a submit_multi to two numbers, none asking for receipts,
// and reports their responses under `extras`. With --wait-unbind, does not unbind itself:
// prints `waiting for unbind`, answers the SMSC's unbind on every session with unbind_resp
// and waits for the SMSC to close (`server_unbinds`). Prints one JSON line; exits 0 only when all
// of that happened and every response was ESME_ROK.
'use strict';

const smpp = require('smpp');
const { parseArgs, gsmText, chineseText, makeParts, parseReceipt } = require('./common');

const { opts, positional } = parseArgs(process.argv.slice(2), {
  mode: 'trx',
  system_id: 'nodeesme',
  password: 'secret',
  gsm_len: 400,
  ucs2_len: 150,
  no_receipts: false,
  extras: false,
  wait_unbind: false,
  timeout_ms: 20000,
});
if (positional.length !== 2 || !['trx', 'tx-rx'].includes(opts.mode)) {
  process.stderr.write('usage: node_client.js HOST PORT [--mode trx|tx-rx] ...\n');
  process.exit(2);
}
const [host, port] = [positional[0], Number(positional[1])];
const wantReceipts = !opts.no_receipts;

const result = {
  ok: false,
  mode: opts.mode,
  binds: {},
  parts: { gsm: 0, ucs2: 0 },
  submits: [],
  receipts: [],
  mo: [],
  receipts_matched: 0,
  extras: null,
  enquire_link: {},
  unbind: {},
  server_unbinds: {},
  errors: [],
};

let finished = false;
function finish(ok) {
  if (finished) return;
  finished = true;
  result.ok = ok && result.errors.length === 0;
  process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(result.ok ? 0 : 1));
}
setTimeout(() => {
  result.errors.push('timeout after ' + opts.timeout_ms + ' ms');
  finish(false);
}, opts.timeout_ms).unref();

function open(name) {
  return new Promise((resolve, reject) => {
    const session = smpp.connect({ host, port }, () => resolve(session));
    session.name = name;
    session.on('error', (e) => {
      result.errors.push(name + ': ' + (e && e.message ? e.message : String(e)));
      reject(e);
    });
  });
}

function request(session, command, params) {
  return new Promise((resolve) => {
    if (!session[command](params, resolve)) {
      result.errors.push(session.name + ': socket not writable for ' + command);
      resolve({ command: 'none', command_status: -1 });
    }
  });
}

function fieldText(field) {
  if (!field) return '';
  if (typeof field === 'string') return field;
  if (Buffer.isBuffer(field)) return field.toString('latin1');
  return typeof field.message === 'string' ? field.message : Buffer.from(field.message).toString('latin1');
}

let onReceipt = () => {};
function listen(session) {
  session.on('deliver_sm', (pdu) => {
    const text = fieldText(pdu.short_message);
    if ((pdu.esm_class & 0x3c) === 0x04) {
      const r = parseReceipt(text);
      result.receipts.push({
        session: session.name,
        receipted_message_id: pdu.receipted_message_id === undefined ? null : pdu.receipted_message_id,
        message_state: pdu.message_state === undefined ? null : pdu.message_state,
        id: r.id === undefined ? null : r.id,
        stat: r.stat === undefined ? null : r.stat,
        err: r.err === undefined ? null : r.err,
      });
    } else {
      result.mo.push({ session: session.name, text });
    }
    session.send(pdu.response());
    onReceipt();
  });
  session.on('enquire_link', (pdu) => session.send(pdu.response()));
}

async function bind(session, command) {
  const resp = await request(session, command, { system_id: opts.system_id, password: opts.password });
  result.binds[session.name] = { command, status: resp.command_status, system_id: resp.system_id || null };
  if (resp.command_status !== 0) throw new Error(command + ' refused: ' + resp.command_status);
}

async function main() {
  const sessions = [];
  let tx;
  if (opts.mode === 'trx') {
    tx = await open('trx');
    listen(tx);
    sessions.push(tx);
    await bind(tx, 'bind_transceiver');
  } else {
    const rx = await open('rx');
    listen(rx);
    sessions.push(rx);
    await bind(rx, 'bind_receiver');
    tx = await open('tx');
    listen(tx);
    sessions.push(tx);
    await bind(tx, 'bind_transmitter');
  }

  const gsm = makeParts(gsmText(opts.gsm_len), 'gsm', 0x21);
  const ucs2 = makeParts(chineseText(opts.ucs2_len), 'ucs2', 0x42);
  result.parts = { gsm: gsm.length, ucs2: ucs2.length };
  const parts = gsm.concat(ucs2);
  const responses = await Promise.all(parts.map((p) => request(tx, 'submit_sm', {
    source_addr: '15550001',
    source_addr_ton: 1,
    source_addr_npi: 1,
    destination_addr: '15550002',
    dest_addr_ton: 1,
    dest_addr_npi: 1,
    esm_class: p.esm_class,
    data_coding: p.data_coding,
    registered_delivery: wantReceipts ? 1 : 0,
    short_message: p.short_message,
  })));
  result.submits = responses.map((r) => ({
    sequence_number: r.sequence_number,
    command: r.command,
    status: r.command_status,
    message_id: r.message_id === undefined ? null : r.message_id,
  }));
  const ids = result.submits.filter((s) => s.status === 0 && s.message_id).map((s) => s.message_id);
  if (ids.length !== parts.length) result.errors.push(parts.length - ids.length + ' parts not accepted');

  if (wantReceipts) {
    await new Promise((resolve) => {
      const check = () => {
        const matched = ids.filter((id) => result.receipts.some(
          (r) => r.receipted_message_id === id && r.id === id));
        result.receipts_matched = matched.length;
        if (matched.length === ids.length) resolve();
      };
      onReceipt = check;
      check();
    });
  }

  if (opts.extras) await extras(tx, ids[0]);

  for (const s of sessions) {
    const r = await request(s, 'enquire_link', {});
    result.enquire_link[s.name] = { command: r.command, status: r.command_status };
  }
  if (opts.wait_unbind) {
    const closed = sessions.map((s) => new Promise((resolve) => {
      s.on('unbind', (pdu) => {
        result.server_unbinds[s.name] = { sequence_number: pdu.sequence_number, closed: false };
        s.send(pdu.response());
      });
      s.on('close', () => {
        if (result.server_unbinds[s.name]) result.server_unbinds[s.name].closed = true;
        resolve();
      });
    }));
    process.stdout.write('waiting for unbind\n');
    await Promise.all(closed);
    for (const s of sessions) {
      if (!result.server_unbinds[s.name]) result.errors.push(s.name + ': closed without unbind');
    }
    finish(true);
    return;
  }
  for (const s of sessions) {
    const closed = new Promise((resolve) => s.on('close', resolve));
    const r = await request(s, 'unbind', {});
    result.unbind[s.name] = { command: r.command, status: r.command_status };
    s.close();
    await closed;
  }
  finish(true);
}

async function extras(tx, firstId) {
  const query = await request(tx, 'query_sm', {
    message_id: firstId,
    source_addr_ton: 1,
    source_addr_npi: 1,
    source_addr: '15550001',
  });
  const data = await request(tx, 'data_sm', {
    source_addr_ton: 1,
    source_addr_npi: 1,
    source_addr: '15550001',
    dest_addr_ton: 1,
    dest_addr_npi: 1,
    destination_addr: '15550002',
    data_coding: 0,
    message_payload: Buffer.from('data_sm from node', 'ascii'),
  });
  const multi = await request(tx, 'submit_multi', {
    source_addr_ton: 1,
    source_addr_npi: 1,
    source_addr: '15550001',
    dest_address: [
      { dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '15550003' },
      { dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '15550004' },
    ],
    data_coding: 0,
    short_message: Buffer.from('submit_multi from node', 'ascii'),
  });
  result.extras = {
    query_sm: {
      command: query.command,
      status: query.command_status,
      message_id: query.message_id === undefined ? null : query.message_id,
      message_state: query.message_state === undefined ? null : query.message_state,
      error_code: query.error_code === undefined ? null : query.error_code,
      has_final_date: !!query.final_date,
    },
    data_sm: {
      command: data.command,
      status: data.command_status,
      message_id: data.message_id === undefined ? null : data.message_id,
    },
    submit_multi: {
      command: multi.command,
      status: multi.command_status,
      message_id: multi.message_id === undefined ? null : multi.message_id,
      unsuccess: (multi.unsuccess_sme || []).length,
    },
  };
  for (const [name, r] of Object.entries(result.extras)) {
    if (r.status !== 0) result.errors.push(name + ' answered ' + r.status);
  }
}

main().catch((e) => {
  result.errors.push(String(e && e.message ? e.message : e));
  finish(false);
});
