#!/usr/bin/env node
// An SMSC written with the npm `smpp` package, for interop tests.
//
//   node node_server.js [--port 0] [--host 127.0.0.1] [--mo TEXT] [--system-id ID]
//                       [--password PW] [--receipt-delay-ms 0] [--timeout-ms 60000]
//                       [--exit-after-unbinds N] [--brief]
//
// Prints `listening on HOST:PORT` when ready. Accepts bind_transceiver / bind_transmitter /
// bind_receiver; answers submit_sm with ids `n1`, `n2`, …; after each submit_sm with
// registered_delivery sends a receipt deliver_sm (esm_class 0x04, receipted_message_id,
// message_state) back on the session (or a receiver of the same system_id) and records
// the deliver_sm_resp; with --mo, sends one MO deliver_sm after a bind that can receive.
// Answers enquire_link and unbind. On SIGTERM / SIGINT, after --exit-after-unbinds
// unbinds, or at --timeout-ms, prints one JSON summary line and exits (0; 1 on timeout).
// With --brief the summary's per-PDU lists (submits, messages, receipt_resps, mo_resps)
// are replaced by counts (`receipt_resps_ok`: those answered ESME_ROK), for load runs.
'use strict';

const smpp = require('smpp');
const { parseArgs } = require('./common');

const { opts } = parseArgs(process.argv.slice(2), {
  port: 0,
  host: '127.0.0.1',
  mo: '',
  system_id: '',
  password: '',
  receipt_delay_ms: 0,
  timeout_ms: 60000,
  exit_after_unbinds: 0,
  brief: false,
});

const summary = {
  binds: [],
  submits: [],
  messages: [],
  receipts_sent: 0,
  receipt_resps: [],
  mo_sent: 0,
  mo_resps: [],
  enquire_links: 0,
  unbinds: 0,
  unbind_resps: 0,
  generic_nacks: 0,
  unknown: [],
  errors: [],
  sessions_closed: 0,
};

let nextId = 1;
const receivers = []; // bound sessions that can take deliver_sm: {session, system_id}
const concat = new Map(); // "ref/total" → {parts: [], data_coding}

function done(code) {
  let out = summary;
  if (opts.brief) {
    out = Object.assign({}, summary, {
      submits: summary.submits.length,
      messages: summary.messages.length,
      receipt_resps: summary.receipt_resps.length,
      receipt_resps_ok: summary.receipt_resps.filter((r) => r.status === 0).length,
      mo_resps: summary.mo_resps.length,
    });
  }
  process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(code));
}

process.on('SIGTERM', () => done(0));
process.on('SIGINT', () => done(0));
setTimeout(() => {
  summary.errors.push('timeout');
  done(1);
}, opts.timeout_ms).unref();

// The concatenation info of a submit: from the UDH (8- or 16-bit reference) or SAR TLVs.
function concatInfo(pdu, udh) {
  for (const ie of udh || []) {
    if (ie[0] === 0x00 && ie.length >= 5) return { ref: ie[2], total: ie[3], seq: ie[4] };
    if (ie[0] === 0x08 && ie.length >= 6) {
      return { ref: ie.readUInt16BE(2), total: ie[4], seq: ie[5] };
    }
  }
  if (pdu.sar_msg_ref_num !== undefined) {
    return { ref: pdu.sar_msg_ref_num, total: pdu.sar_total_segments, seq: pdu.sar_segment_seqnum };
  }
  return null;
}

function text(field) {
  if (field === undefined || field === null) return '';
  if (typeof field === 'string') return field;
  if (Buffer.isBuffer(field)) return field.toString('hex');
  return typeof field.message === 'string' ? field.message : Buffer.from(field.message).toString('hex');
}

function record(pdu, messageId) {
  const field = pdu.message_payload !== undefined ? pdu.message_payload : pdu.short_message;
  const udh = field && field.udh ? field.udh : [];
  const part = {
    sequence_number: pdu.sequence_number,
    message_id: messageId,
    source_addr: pdu.source_addr,
    destination_addr: pdu.destination_addr,
    esm_class: pdu.esm_class,
    data_coding: pdu.data_coding,
    registered_delivery: pdu.registered_delivery,
    udh_ies: udh.map((ie) => Buffer.from(ie).toString("hex")),
    text: text(field),
  };
  const info = concatInfo(pdu, udh);
  if (info) part.concat = info;
  summary.submits.push(part);
  // Reassemble: a message is complete once every part of its reference has arrived.
  if (!info) {
    summary.messages.push({ parts: 1, data_coding: pdu.data_coding, text: part.text });
    return;
  }
  const key = info.ref + '/' + info.total + '/' + pdu.source_addr;
  const entry = concat.get(key) || { parts: new Array(info.total), got: 0, data_coding: pdu.data_coding };
  if (entry.parts[info.seq - 1] === undefined) entry.got++;
  entry.parts[info.seq - 1] = part.text;
  concat.set(key, entry);
  if (entry.got === info.total) {
    concat.delete(key);
    summary.messages.push({ parts: info.total, data_coding: entry.data_coding, text: entry.parts.join('') });
  }
}

function smppDate(d) {
  const p = (n) => String(n).padStart(2, '0');
  return p(d.getUTCFullYear() % 100) + p(d.getUTCMonth() + 1) + p(d.getUTCDate()) +
    p(d.getUTCHours()) + p(d.getUTCMinutes());
}

function receiverFor(session, systemId) {
  if (session.canReceive) return session;
  const r = receivers.find((x) => x.system_id === systemId && x.session.socket.writable);
  return r ? r.session : null;
}

function sendReceipt(session, systemId, pdu, messageId) {
  const target = receiverFor(session, systemId);
  if (!target) {
    summary.errors.push('no receiver for the receipt of ' + messageId);
    return;
  }
  const now = smppDate(new Date());
  const body = 'id:' + messageId + ' sub:001 dlvrd:001 submit date:' + now + ' done date:' + now +
    ' stat:DELIVRD err:000 text:';
  summary.receipts_sent++;
  target.deliver_sm({
    source_addr: pdu.destination_addr,
    destination_addr: pdu.source_addr,
    esm_class: 0x04,
    data_coding: 0,
    short_message: Buffer.from(body, 'ascii'),
    receipted_message_id: messageId,
    message_state: 2,
  }, (resp) => {
    summary.receipt_resps.push({ message_id: messageId, command: resp.command, status: resp.command_status });
  });
}

function sendMo(session) {
  summary.mo_sent++;
  session.deliver_sm({
    source_addr: '15550009',
    source_addr_ton: 1,
    source_addr_npi: 1,
    destination_addr: '15550001',
    esm_class: 0,
    data_coding: 0,
    short_message: Buffer.from(opts.mo, 'ascii'),
  }, (resp) => {
    summary.mo_resps.push({ command: resp.command, status: resp.command_status });
  });
}

const server = smpp.createServer((session) => {
  session.canReceive = false;
  let systemId = null;
  let bindCommand = null;
  let unbound = false;

  for (const command of ['bind_transceiver', 'bind_transmitter', 'bind_receiver']) {
    session.on(command, (pdu) => {
      let status = 0;
      if (systemId !== null) status = smpp.ESME_RALYBND;
      else if (opts.system_id && pdu.system_id !== opts.system_id) status = smpp.ESME_RINVSYSID;
      else if (opts.password && pdu.password !== opts.password) status = smpp.ESME_RINVPASWD;
      summary.binds.push({ command, system_id: pdu.system_id, status });
      session.send(pdu.response({ command_status: status, system_id: 'nodesmsc' }));
      if (status !== 0) return;
      systemId = pdu.system_id;
      bindCommand = command;
      if (command !== 'bind_transmitter') {
        session.canReceive = true;
        receivers.push({ session, system_id: systemId });
        if (opts.mo) sendMo(session);
      }
    });
  }

  session.on('submit_sm', (pdu) => {
    if (systemId === null || bindCommand === 'bind_receiver') {
      session.send(pdu.response({ command_status: smpp.ESME_RINVBNDSTS }));
      return;
    }
    const messageId = 'n' + nextId++;
    record(pdu, messageId);
    session.send(pdu.response({ message_id: messageId }));
    if (pdu.registered_delivery & 0x03) {
      const go = () => sendReceipt(session, systemId, pdu, messageId);
      if (opts.receipt_delay_ms > 0) setTimeout(go, opts.receipt_delay_ms);
      else setImmediate(go);
    }
  });

  session.on('enquire_link', (pdu) => {
    summary.enquire_links++;
    session.send(pdu.response());
  });

  session.on('unbind', (pdu) => {
    summary.unbinds++;
    unbound = true;
    session.send(pdu.response(), () => {
      session.close();
    });
  });

  session.on('unbind_resp', () => {
    summary.unbind_resps++;
  });

  session.on('generic_nack', () => {
    summary.generic_nacks++;
  });

  session.on('unknown', (pdu) => {
    summary.unknown.push(pdu.command_id);
    session.send(pdu.response());
  });

  session.on('error', (e) => {
    summary.errors.push(String(e && e.message ? e.message : e));
  });

  session.on('close', () => {
    summary.sessions_closed++;
    const i = receivers.findIndex((r) => r.session === session);
    if (i >= 0) receivers.splice(i, 1);
    if (unbound && opts.exit_after_unbinds > 0 && summary.unbinds >= opts.exit_after_unbinds) {
      done(0);
    }
  });
});

server.on('error', (e) => {
  summary.errors.push(String(e.message));
  done(1);
});

server.listen(opts.port, opts.host, () => {
  const a = server.address();
  process.stdout.write('listening on ' + a.address + ':' + a.port + '\n');
});
