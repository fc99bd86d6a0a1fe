#!/usr/bin/env python3
"""An ESME written with PyPI `smpplib` that waits for MO messages, for interop tests.

    smpplib_mo.py HOST PORT --system-id ID --password PW --mos N
                  [--submit-to NUMBER --service-type mkt] [--timeout 30]

Binds a transceiver and prints {"event": "bound"}; answers every deliver_sm and prints
{"event": "mo", "text": TEXT} for each MO (UCS-2 decoded), and after the Nth unbinds and
prints {"event": "done"}. With --submit-to, submits a message of that service_type to
NUMBER once bound and after each MO, and prints {"event": "submit", "status": N}. Exits 1
(with {"event": "error", ...}) on a refused bind or at the deadline.
"""

import argparse
import json
import socket
import sys
import time

import smpplib.client
import smpplib.smpp


def say(**event):
    print(json.dumps(event, ensure_ascii=False), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--system-id", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--mos", type=int, required=True)
    ap.add_argument("--submit-to")
    ap.add_argument("--service-type", default="mkt")
    ap.add_argument("--timeout", type=float, default=30.0)
    args = ap.parse_args()
    deadline = time.monotonic() + args.timeout

    client = smpplib.client.Client(args.host, args.port, timeout=args.timeout)
    client.connect()
    resp = client.bind_transceiver(system_id=args.system_id, password=args.password)
    if int(resp.status) != 0:
        say(event="error", bind_status=int(resp.status))
        sys.exit(1)
    say(event="bound")
    pending = {}

    def submit():
        if not args.submit_to:
            return
        pdu = smpplib.smpp.make_pdu(
            "submit_sm",
            client=client,
            service_type=args.service_type,
            source_addr_ton=1,
            source_addr="10690000",
            dest_addr_ton=1,
            destination_addr=args.submit_to,
            short_message=b"sale today",
        )
        client.send_pdu(pdu)
        pending[pdu.sequence] = True

    submit()
    seen = 0
    while seen < args.mos or pending:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            say(event="error", why="deadline", mos=seen)
            sys.exit(1)
        client._socket.settimeout(remaining)
        try:
            pdu = client.read_pdu()
        except socket.timeout:
            continue
        if pdu.command == "submit_sm_resp" and pending.pop(pdu.sequence, None):
            say(event="submit", status=int(pdu.status))
            continue
        if pdu.command == "deliver_sm":
            raw = pdu.short_message or b""
            if int(pdu.data_coding or 0) == 8:
                text = raw.decode("utf-16-be", errors="replace")
            else:
                text = raw.decode("latin-1")
            out = smpplib.smpp.make_pdu("deliver_sm_resp", client=client)
            out.sequence = pdu.sequence
            client.send_pdu(out)
            if int(pdu.esm_class or 0) & 0x3C == 0:
                seen += 1
                say(event="mo", text=text)
                submit()
        elif pdu.command == "enquire_link":
            out = smpplib.smpp.make_pdu("enquire_link_resp", client=client)
            out.sequence = pdu.sequence
            client.send_pdu(out)
    client.unbind()
    client.disconnect()
    say(event="done")


if __name__ == "__main__":
    main()
