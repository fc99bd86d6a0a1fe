#!/usr/bin/env python3
"""A misbehaving SMPP client on a raw socket (standard library only), for interop tests.

    raw_peer.py HOST PORT SCENARIO... [--timeout 5]

Each scenario runs on its own connection; one JSON line maps each scenario to what came
back: every response PDU (command_id, command_status, sequence_number, command_length) and
whether the peer closed the socket.

Scenarios:
  garbage          send 64 bytes of ASCII text (command_length 0x47455420, framing lost);
                   read until the peer closes
  len8             a header claiming command_length 8 (below the 16-byte header); read
                   until the peer closes
  unknown_command  bind_transceiver, then command_id 0x00000077 (sequence 7), then
                   enquire_link (8) and submit_sm (9) to show the session still works, unbind
  submit_unbound   submit_sm (sequence 1) before any bind; then enquire_link (2)
  receiver_submit  bind_receiver (1), then submit_sm (2): a receiver may not submit
  double_bind      bind_transceiver (1), bind_transceiver again (2), enquire_link (3)
  cut              bind_transceiver cut after 10 of its bytes, then close; reports nothing
                   came back before the close
"""

import argparse
import json
import socket
import struct
import sys
import time

BIND_RECEIVER = 0x00000001
BIND_TRANSCEIVER = 0x00000009
SUBMIT_SM = 0x00000004
ENQUIRE_LINK = 0x00000015
UNBIND = 0x00000006
UNKNOWN = 0x00000077


def pdu(command_id, sequence, body=b"", status=0):
    return struct.pack(">IIII", 16 + len(body), command_id, status, sequence) + body


def cstr(s):
    return s.encode("ascii") + b"\0"


def bind_body(system_id="rawpeer", password="secret"):
    # system_id, password, system_type, interface_version, addr_ton, addr_npi, address_range
    return cstr(system_id) + cstr(password) + cstr("") + bytes([0x34, 0, 0]) + cstr("")


def submit_body(text=b"raw peer hello"):
    return (
        cstr("")  # service_type
        + bytes([1, 1]) + cstr("15550001")
        + bytes([1, 1]) + cstr("15550002")
        + bytes([0, 0, 0])  # esm_class, protocol_id, priority_flag
        + cstr("") + cstr("")  # schedule_delivery_time, validity_period
        + bytes([0, 0, 0, 0])  # registered_delivery, replace_if_present, data_coding, sm_default_msg_id
        + bytes([len(text)]) + text
    )


class Conn:
    def __init__(self, host, port, deadline):
        self.sock = socket.create_connection((host, port), timeout=5)
        self.deadline = deadline
        self.buf = b""
        self.closed = False
        self.responses = []

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        """Reads more bytes; False on close or at the deadline."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0 or self.closed:
            return False
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.closed = True
            return False
        self.buf += chunk
        return True

    def read_pdu(self):
        """The next PDU as a dict (answering enquire_link on the way); None on close/deadline."""
        while True:
            while len(self.buf) < 16:
                if not self._fill():
                    return None
            length = struct.unpack(">I", self.buf[:4])[0]
            while len(self.buf) < length:
                if not self._fill():
                    return None
            raw, self.buf = self.buf[:length], self.buf[length:]
            command_id, status, sequence = struct.unpack(">III", raw[4:16])
            item = {
                "command_id": command_id,
                "command_status": status,
                "sequence_number": sequence,
                "command_length": length,
            }
            self.responses.append(item)
            if command_id == ENQUIRE_LINK:
                self.send(pdu(ENQUIRE_LINK | 0x80000000, sequence))
                continue
            return item

    def expect(self, sequence):
        """Reads until a PDU with `sequence` (or close/deadline)."""
        while True:
            item = self.read_pdu()
            if item is None or item["sequence_number"] == sequence:
                return item

    def drain_until_closed(self):
        while self.read_pdu() is not None:
            pass

    def report(self):
        self.sock.close()
        return {"responses": self.responses, "closed": self.closed}


def garbage(c):
    c.send(b"GET / HTTP/1.1\r\nHost: smsc\r\nUser-Agent: not-smpp\r\nAccept: */*\r\n\r\n"[:64])
    c.drain_until_closed()


def len8(c):
    c.send(struct.pack(">IIII", 8, ENQUIRE_LINK, 0, 1))
    c.drain_until_closed()


def unknown_command(c):
    c.send(pdu(BIND_TRANSCEIVER, 1, bind_body()))
    c.expect(1)
    c.send(pdu(UNKNOWN, 7))
    c.expect(7)
    c.send(pdu(ENQUIRE_LINK, 8))
    c.expect(8)
    c.send(pdu(SUBMIT_SM, 9, submit_body()))
    c.expect(9)
    c.send(pdu(UNBIND, 10))
    c.expect(10)
    c.drain_until_closed()


def submit_unbound(c):
    c.send(pdu(SUBMIT_SM, 1, submit_body()))
    c.expect(1)
    c.send(pdu(ENQUIRE_LINK, 2))
    c.expect(2)


def receiver_submit(c):
    c.send(pdu(BIND_RECEIVER, 1, bind_body()))
    c.expect(1)
    c.send(pdu(SUBMIT_SM, 2, submit_body()))
    c.expect(2)


def double_bind(c):
    c.send(pdu(BIND_TRANSCEIVER, 1, bind_body()))
    c.expect(1)
    c.send(pdu(BIND_TRANSCEIVER, 2, bind_body()))
    c.expect(2)
    c.send(pdu(ENQUIRE_LINK, 3))
    c.expect(3)


def cut(c):
    whole = pdu(BIND_TRANSCEIVER, 1, bind_body())
    c.send(whole[:10])
    # Close without reading: the peer sees half a PDU, then EOF.


SCENARIOS = {
    "garbage": garbage,
    "len8": len8,
    "unknown_command": unknown_command,
    "submit_unbound": submit_unbound,
    "receiver_submit": receiver_submit,
    "double_bind": double_bind,
    "cut": cut,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("scenarios", nargs="+", choices=sorted(SCENARIOS))
    ap.add_argument("--timeout", type=float, default=5.0, help="seconds per scenario")
    args = ap.parse_args()
    out = {}
    ok = True
    for name in args.scenarios:
        try:
            c = Conn(args.host, args.port, time.monotonic() + args.timeout)
            SCENARIOS[name](c)
            out[name] = c.report()
        except OSError as e:
            out[name] = {"error": "%s: %s" % (type(e).__name__, e)}
            ok = False
    print(json.dumps(out), flush=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
