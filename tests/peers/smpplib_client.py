#!/usr/bin/env python3
"""An ESME written with PyPI `smpplib`, for interop tests.

    smpplib_client.py HOST PORT [--system-id ID] [--password PW] [--gsm-len 400]
                      [--ucs2-len 150] [--no-receipts] [--timeout 20]

Binds a transceiver, submits a long GSM and a long UCS-2 (Chinese) message split with
`smpplib.gsm.make_parts` (8-bit concatenation UDH, esm_class 0x40), asks for receipts, waits
for one receipt per accepted part (receipted_message_id and the text's `id:` must both be
the submit_sm_resp's message_id), answers every deliver_sm, sends enquire_link and unbinds.
Prints one JSON line; exits 0 only when all of that happened (1 otherwise; a refused bind
reports its status in `bind.status`).
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

GSM_BASE = "GSM interop long message from a third party peer 0123456789. "
CHINESE_BASE = "中文长短信互通测试，第三方客户端发送。"


def repeat_to(base, length):
    return (base * (length // len(base) + 1))[:length]


def text_of(value):
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)


def parse_receipt(text):
    fields = dict(
        (k.lower().replace(" ", "_"), v)
        for k, v in re.findall(r"(id|sub|dlvrd|submit date|done date|stat|err):(\S*)", text, re.I)
    )
    return fields


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--system-id", default="pyesme")
    ap.add_argument("--password", default="secret")
    ap.add_argument("--gsm-len", type=int, default=400)
    ap.add_argument("--ucs2-len", type=int, default=150)
    ap.add_argument("--no-receipts", action="store_true")
    ap.add_argument("--timeout", type=float, default=20.0)
    args = ap.parse_args()
    deadline = time.monotonic() + args.timeout

    result = {
        "ok": False,
        "bind": None,
        "parts": {"gsm": 0, "ucs2": 0},
        "submits": [],
        "receipts": [],
        "mo": [],
        "receipts_matched": 0,
        "enquire_link": None,
        "unbind": None,
        "errors": [],
    }

    def finish(ok):
        result["ok"] = bool(ok and not result["errors"])
        print(json.dumps(result), flush=True)
        sys.exit(0 if result["ok"] else 1)

    client = smpplib.client.Client(
        args.host, args.port, timeout=max(0.1, args.timeout), allow_unknown_opt_params=True
    )

    def read():
        """The next PDU; answers deliver_sm and enquire_link on the way. None at the deadline."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        client._socket.settimeout(remaining)
        try:
            pdu = client.read_pdu()
        except socket.timeout:
            return None
        if pdu.command == "deliver_sm":
            esm_class = int(pdu.esm_class or 0)
            text = text_of(pdu.short_message)
            if esm_class & 0x3C == 0x04:
                fields = parse_receipt(text)
                result["receipts"].append(
                    {
                        "sequence_number": pdu.sequence,
                        "receipted_message_id": text_of(pdu.receipted_message_id) or None,
                        "message_state": pdu.message_state,
                        "id": fields.get("id"),
                        "stat": fields.get("stat"),
                        "err": fields.get("err"),
                    }
                )
            else:
                result["mo"].append({"text": text, "data_coding": pdu.data_coding})
            resp = smpplib.smpp.make_pdu("deliver_sm_resp", client=client)
            resp.sequence = pdu.sequence
            client.send_pdu(resp)
        elif pdu.command == "enquire_link":
            resp = smpplib.smpp.make_pdu("enquire_link_resp", client=client)
            resp.sequence = pdu.sequence
            client.send_pdu(resp)
        return pdu

    def wait_response(command, sequence):
        """Reads until the response `command` with `sequence` (or a generic_nack for it)."""
        while True:
            pdu = read()
            if pdu is None:
                result["errors"].append("no %s for sequence %d in time" % (command, sequence))
                finish(False)
            if pdu.command in (command, "generic_nack") and pdu.sequence == sequence:
                return pdu

    try:
        client.connect()
        try:
            resp = client.bind_transceiver(system_id=args.system_id, password=args.password)
            result["bind"] = {
                "command": resp.command,
                "status": int(resp.status),
                "system_id": text_of(resp.system_id),
            }
        except smpplib.exceptions.PDUError as e:
            result["bind"] = {"command": "bind_transceiver_resp", "status": int(e.args[1])}
            result["errors"].append("bind refused: %s" % e.args[0])
            finish(False)

        gsm_parts, gsm_coding, gsm_esm = smpplib.gsm.make_parts(
            repeat_to(GSM_BASE, args.gsm_len), smpplib.consts.SMPP_ENCODING_DEFAULT
        )
        ucs_parts, ucs_coding, ucs_esm = smpplib.gsm.make_parts(
            repeat_to(CHINESE_BASE, args.ucs2_len), smpplib.consts.SMPP_ENCODING_ISO10646
        )
        result["parts"] = {"gsm": len(gsm_parts), "ucs2": len(ucs_parts)}
        sent = []
        for parts, coding, esm in ((gsm_parts, gsm_coding, gsm_esm), (ucs_parts, ucs_coding, ucs_esm)):
            for part in parts:
                pdu = client.send_message(
                    source_addr_ton=smpplib.consts.SMPP_TON_INTL,
                    source_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                    source_addr="15550001",
                    dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                    dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                    destination_addr="15550002",
                    short_message=part,
                    data_coding=coding,
                    esm_class=esm,
                    registered_delivery=0 if args.no_receipts else 1,
                )
                sent.append(pdu.sequence)
        for sequence in sent:
            resp = wait_response("submit_sm_resp", sequence)
            result["submits"].append(
                {
                    "sequence_number": sequence,
                    "command": resp.command,
                    "status": int(resp.status),
                    "message_id": text_of(getattr(resp, "message_id", None)) or None,
                }
            )
        ids = [s["message_id"] for s in result["submits"] if s["status"] == 0 and s["message_id"]]
        if len(ids) != len(sent):
            result["errors"].append("%d parts not accepted" % (len(sent) - len(ids)))

        def matched():
            return [
                i
                for i in ids
                if any(r["receipted_message_id"] == i and r["id"] == i for r in result["receipts"])
            ]

        if not args.no_receipts:
            while len(matched()) < len(ids):
                if read() is None:
                    result["errors"].append("receipts missing for %s" % sorted(set(ids) - set(matched())))
                    break
        result["receipts_matched"] = len(matched())

        link = smpplib.smpp.make_pdu("enquire_link", client=client)
        client.send_pdu(link)
        resp = wait_response("enquire_link_resp", link.sequence)
        result["enquire_link"] = {"command": resp.command, "status": int(resp.status)}

        unbind = smpplib.smpp.make_pdu("unbind", client=client)
        client.send_pdu(unbind)
        resp = wait_response("unbind_resp", unbind.sequence)
        result["unbind"] = {"command": resp.command, "status": int(resp.status)}
        client.disconnect()
    except (smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError, OSError) as e:
        result["errors"].append("%s: %s" % (type(e).__name__, e))
        finish(False)
    finish(True)


if __name__ == "__main__":
    main()
