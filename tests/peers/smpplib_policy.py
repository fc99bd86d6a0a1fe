#!/usr/bin/env python3
"""An ESME written with PyPI `smpplib` that submits a list of messages one at a time and
reports each submit_sm_resp, for the market-rules tests.

    smpplib_policy.py HOST PORT --system-id ID --password PW --messages JSON [--timeout 20]

JSON is a list of {"to": "+86…", "text": "…", "service_type": "otp", "receipt": true,
"wait": false, "split": true} (service_type, receipt, wait and split optional; "wait": false
asks for a receipt without waiting for it, for a message held back; "split": true has
smpplib cut a long text itself, UCS-2 parts with a concatenation UDH, one submit_sm each,
reported as one submit per part with "part": N). --wait-receipts ID,… also waits for
the receipts of messages submitted earlier (by another session). Each text goes as one UCS-2 short_message
(data_coding 8). Prints one JSON line {"ok", "bind", "submits": [{"to", "status",
"message_id"}], "receipts": [{"id", "stat", "err"}], "errors"}; exits 0 when every message
got a submit_sm_resp (whatever its status) and every accepted one that asked for a receipt
got one.
"""

import argparse
import json
import re
import socket
import sys
import time

import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.gsm
import smpplib.smpp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--system-id", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--messages", required=True)
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--wait-receipts", default="")
    args = ap.parse_args()
    deadline = time.monotonic() + args.timeout
    messages = json.loads(args.messages)
    result = {"ok": False, "bind": None, "submits": [], "receipts": [], "errors": []}

    def finish(ok):
        result["ok"] = bool(ok and not result["errors"])
        print(json.dumps(result, ensure_ascii=False), flush=True)
        sys.exit(0 if result["ok"] else 1)

    client = smpplib.client.Client(
        args.host, args.port, timeout=max(0.1, args.timeout), allow_unknown_opt_params=True
    )

    def wait_response(command, sequence):
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                result["errors"].append("no %s for sequence %d in time" % (command, sequence))
                finish(False)
            client._socket.settimeout(remaining)
            try:
                pdu = client.read_pdu()
            except socket.timeout:
                continue
            if pdu.command == "deliver_sm":
                text = pdu.short_message or b""
                text = text.decode("latin-1") if isinstance(text, bytes) else str(text)
                fields = dict(re.findall(r"(id|stat|err):(\S*)", text))
                result["receipts"].append(
                    {"id": fields.get("id"), "stat": fields.get("stat"), "err": fields.get("err")}
                )
            if pdu.command in ("deliver_sm", "enquire_link"):
                resp = smpplib.smpp.make_pdu(pdu.command + "_resp", client=client)
                resp.sequence = pdu.sequence
                client.send_pdu(resp)
            elif pdu.command in (command, "generic_nack") and pdu.sequence == sequence:
                return pdu

    try:
        client.connect()
        resp = client.bind_transceiver(system_id=args.system_id, password=args.password)
        result["bind"] = {"status": int(resp.status)}
        wanted = [w for w in args.wait_receipts.split(",") if w]
        for message in messages:
            if message.get("split"):
                parts, coding, esm_class = smpplib.gsm.make_parts(
                    message["text"], encoding=smpplib.consts.SMPP_ENCODING_ISO10646
                )
            else:
                parts = [message["text"].encode("utf-16-be")]
                coding, esm_class = smpplib.consts.SMPP_ENCODING_ISO10646, 0
            for number, short_message in enumerate(parts, start=1):
                pdu = client.send_message(
                    service_type=message.get("service_type", ""),
                    source_addr_ton=smpplib.consts.SMPP_TON_INTL,
                    source_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                    source_addr="10690000",
                    dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                    dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                    destination_addr=message["to"],
                    short_message=short_message,
                    data_coding=coding,
                    esm_class=esm_class,
                    registered_delivery=1 if message.get("receipt") else 0,
                )
                resp = wait_response("submit_sm_resp", pdu.sequence)
                message_id = getattr(resp, "message_id", None)
                if isinstance(message_id, bytes):
                    message_id = message_id.decode("latin-1")
                submit = {
                    "to": message["to"],
                    "status": int(resp.status),
                    "message_id": message_id or None,
                }
                if message.get("split"):
                    submit["part"] = number
                    submit["parts"] = len(parts)
                result["submits"].append(submit)
                if message.get("receipt") and message.get("wait", True) and submit["status"] == 0:
                    wanted.append(submit["message_id"])
        while any(w not in [r["id"] for r in result["receipts"]] for w in wanted):
            link = smpplib.smpp.make_pdu("enquire_link", client=client)
            client.send_pdu(link)
            wait_response("enquire_link_resp", link.sequence)
        unbind = smpplib.smpp.make_pdu("unbind", client=client)
        client.send_pdu(unbind)
        wait_response("unbind_resp", unbind.sequence)
        client.disconnect()
    except (smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError, OSError) as e:
        result["errors"].append("%s: %s" % (type(e).__name__, e))
        finish(False)
    finish(True)


if __name__ == "__main__":
    main()
