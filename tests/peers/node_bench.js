#!/usr/bin/env node
// Baseline throughput of the npm `smpp` package on loopback (not a test).
//
//   node node_bench.js [--windows 1,10,64,256] [--count 100000] [--count-w1 10000]
//                      [--warmup 2000] [--connect HOST:PORT] [--binds 1] [--receipts]
//   node node_bench.js --serve [--port 0]
//
// Without --connect, starts `node_bench.js --serve` as a second process (a minimal node
// `smpp` SMSC: bind_transceiver / submit_sm / enquire_link / unbind, ids `b1`, `b2`, …) and
// benchmarks against it. With --connect, benchmarks against that SMSC (e.g. smppgate sim).
// --binds B bind_transceivers (default 1); for each window W (most submit_sm outstanding
// per bind; node `smpp` has no window, so the loop keeps W in flight on each), sends N
// submit_sm in all and reports submit/s (first submit → last submit_sm_resp) and the
// p50 / p99 / max latency (submit_sm written → submit_sm_resp read). With --receipts the
// submits ask for receipts (registered_delivery 1; use an SMSC that sends them, e.g.
// node_server.js or smppgate sim) and a window ends when all N receipts are in too
// (`receipts`, `all_receipts_s`). One JSON line per window, then a summary line.
'use strict';

const { spawn } = require('child_process');
const smpp = require('smpp');
const { parseArgs } = require('./common');

const { opts } = parseArgs(process.argv.slice(2), {
  serve: false,
  port: 0,
  connect: '',
  windows: '1,10,64,256',
  count: 100000,
  count_w1: 10000,
  warmup: 2000,
  binds: 1,
  receipts: false,
});

// Receipts received (deliver_sm with esm_class 0x04), and who waits for them.
let receipts = 0;
let onReceipt = () => {};

if (opts.serve) {
  let next = 1;
  const server = smpp.createServer((session) => {
    session.on('bind_transceiver', (pdu) => session.send(pdu.response({ system_id: 'nodebench' })));
    session.on('submit_sm', (pdu) => session.send(pdu.response({ message_id: 'b' + next++ })));
    session.on('enquire_link', (pdu) => session.send(pdu.response()));
    session.on('unbind', (pdu) => session.send(pdu.response(), () => session.close()));
    session.on('deliver_sm_resp', () => {});
    session.on('error', () => {});
  });
  server.listen(opts.port, '127.0.0.1', () => {
    process.stdout.write('listening on 127.0.0.1:' + server.address().port + '\n');
  });
  process.on('SIGTERM', () => process.exit(0));
} else {
  main().catch((e) => {
    process.stderr.write('error: ' + (e && e.stack ? e.stack : e) + '\n');
    process.exit(1);
  });
}

function startServer() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [__filename, '--serve'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const m = buf.match(/listening on ([\d.]+):(\d+)/);
      if (m) resolve({ child, host: m[1], port: Number(m[2]) });
    });
    child.on('exit', (code) => reject(new Error('bench server exited ' + code)));
    // Never leave the server behind, whatever ends this process.
    process.on('exit', () => child.kill('SIGTERM'));
  });
}

function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function run(sessions, window, count) {
  return new Promise((resolve) => {
    const lat = new Float64Array(count);
    const inFlight = sessions.map(() => 0);
    let sent = 0;
    let done = 0;
    let rejected = 0;
    let respElapsed = 0;
    const receiptsBefore = receipts;
    const started = process.hrtime.bigint();
    const finish = () => {
      if (done < count || (opts.receipts && receipts - receiptsBefore < count)) return;
      onReceipt = () => {};
      const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
      const sorted = Array.from(lat).sort((a, b) => a - b);
      const result = {
        binds: sessions.length,
        window,
        count,
        rejected,
        elapsed_s: +respElapsed.toFixed(3),
        submit_per_s: Math.round(count / respElapsed),
        p50_us: Math.round(percentile(sorted, 50)),
        p99_us: Math.round(percentile(sorted, 99)),
        max_us: Math.round(sorted[sorted.length - 1]),
      };
      if (opts.receipts) {
        result.receipts = receipts - receiptsBefore;
        result.all_receipts_s = +elapsed.toFixed(3);
      }
      resolve(result);
    };
    onReceipt = finish;
    const pump = (k) => {
      const session = sessions[k];
      while (sent < count && inFlight[k] < window) {
        const i = sent++;
        inFlight[k]++;
        const t0 = process.hrtime.bigint();
        session.submit_sm({
          source_addr: '15550001',
          source_addr_ton: 1,
          source_addr_npi: 1,
          destination_addr: '15550002',
          dest_addr_ton: 1,
          dest_addr_npi: 1,
          data_coding: 0,
          registered_delivery: opts.receipts ? 1 : 0,
          short_message: Buffer.from('benchmark message ' + i, 'ascii'),
        }, (resp) => {
          lat[i] = Number(process.hrtime.bigint() - t0) / 1e3;
          if (resp.command_status !== 0) rejected++;
          inFlight[k]--;
          done++;
          if (done === count) {
            respElapsed = Number(process.hrtime.bigint() - started) / 1e9;
            finish();
          } else {
            pump(k);
          }
        });
      }
    };
    sessions.forEach((_, k) => pump(k));
  });
}

async function bindOne(host, port) {
  const session = smpp.connect({ host, port });
  session.on('error', (e) => {
    process.stderr.write('session error: ' + e.message + '\n');
    process.exit(1);
  });
  session.on('enquire_link', (pdu) => session.send(pdu.response()));
  session.on('deliver_sm', (pdu) => {
    session.send(pdu.response());
    if ((pdu.esm_class & 0x3c) === 0x04) {
      receipts++;
      onReceipt();
    }
  });
  await new Promise((resolve) => session.on('connect', resolve));
  session.socket.setNoDelay(true);
  const bind = await new Promise((resolve) => session.bind_transceiver({ system_id: 'bench', password: 'pw' }, resolve));
  if (bind.command_status !== 0) throw new Error('bind refused: ' + bind.command_status);
  return session;
}

async function main() {
  let server = null;
  let host;
  let port;
  if (opts.connect) {
    [host, port] = opts.connect.split(':');
    port = Number(port);
  } else {
    server = await startServer();
    ({ host, port } = server);
  }
  const sessions = [];
  for (let b = 0; b < opts.binds; b++) sessions.push(await bindOne(host, port));

  if (opts.warmup > 0) await run(sessions, 64, opts.warmup);
  const results = [];
  for (const w of opts.windows.split(',').map(Number)) {
    const r = await run(sessions, w, w === 1 ? opts.count_w1 : opts.count);
    process.stdout.write(JSON.stringify(r) + '\n');
    results.push(r);
  }
  for (const session of sessions) {
    await new Promise((resolve) => session.unbind(resolve));
    session.close();
  }
  process.stdout.write(JSON.stringify({
    peer: opts.connect ? 'external ' + opts.connect : 'node smpp server (second process)',
    node: process.version,
    smpp: require('smpp/package.json').version,
    results,
  }) + '\n');
  if (server) server.child.kill('SIGTERM');
}
