#!/usr/bin/env python3
"""A CMPP 2.0 SP built on PyPI `pycmpp` (2.0.2), against `smppgate sim --protocol cmpp2`.

pycmpp builds every request (CONNECT with its AuthenticatorSource, the long-message split
with its own UDH, TP_udhi, Pk_total / Pk_number, ACTIVE_TEST, TERMINATE) and parses
CONNECT_RESP and SUBMIT_RESP. It has no DELIVER support and its own receive loop reads
with bare recv() calls, so this script reads whole frames itself and parses the status
report DELIVER here (CMPP 2.0 layout), answering it with DELIVER_RESP.

Prints one JSON object: what the peer saw. Usage: pycmpp_client.py HOST PORT SP_ID SECRET
[--timeout S]
"""

import argparse
import hashlib
import json
import socket
import struct
import sys

try:
    from pycmpp.cmpp import Cmpp
    from pycmpp.request import ActiveTestRequestInstance, ConnectRequestInstance, TerminateRequestInstance
    from pycmpp.response import ConnectResponseInstance, SubmitResponseInstance
except ImportError as error:  # pragma: no cover
    sys.exit(f"PyPI `pycmpp` is not installed ({error}): run scripts/install-peers")

CONNECT_RESP = 0x80000001
TERMINATE_RESP = 0x80000002
SUBMIT_RESP = 0x80000004
DELIVER = 0x00000005
DELIVER_RESP = 0x80000005
ACTIVE_TEST_RESP = 0x80000008

# 三网直连: 144 characters, more than two 64-character pycmpp parts.
LONG_TEXT = "中国移动短信网关模拟器：这是一条很长的中文短信，" * 6


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def read_frame(sock):
    """(command_id, sequence_id, whole frame), or None when the sim closed the link."""
    header = recv_exact(sock, 12)
    if header is None:
        return None
    length, command_id, sequence_id = struct.unpack("!LLL", header)
    if length < 12 or length > 4096:
        raise ValueError(f"bad Total_Length {length}")
    body = recv_exact(sock, length - 12)
    if body is None:
        return None
    return command_id, sequence_id, header + body


def text(octets):
    return octets.rstrip(b"\x00").decode("latin-1")


def parse_report_deliver(frame):
    """CMPP 2.0 DELIVER: Msg_Id 8, Dest_Id 21, Service_Id 10, TP_pid, TP_udhi, Msg_Fmt,
    Src_terminal_Id 21, Registered_Delivery, Msg_Length, Msg_Content, Reserved 8."""
    body = frame[12:]
    msg_id, = struct.unpack("!Q", body[0:8])
    registered_delivery = body[8 + 21 + 10 + 3 + 21]
    length = body[8 + 21 + 10 + 3 + 21 + 1]
    start = 8 + 21 + 10 + 3 + 21 + 2
    content = body[start:start + length]
    report = None
    if registered_delivery == 1:
        # Msg_Id 8, Stat 7, Submit_time 10, Done_time 10, Dest_terminal_Id 21, SMSC_sequence 4
        report = {
            "msg_id": struct.unpack("!Q", content[0:8])[0],
            "stat": text(content[8:15]),
            "submit_time": text(content[15:25]),
            "done_time": text(content[25:35]),
            "dest_terminal_id": text(content[35:56]),
        }
    return msg_id, registered_delivery, report


def login(cmpp, secret):
    """CONNECT through pycmpp; the status, and whether AuthenticatorISMG =
    MD5(Status(1) + AuthenticatorSource + secret) (pycmpp does not check it)."""
    request = ConnectRequestInstance()
    cmpp.send(request.create(cmpp.sp_id, secret))
    frame = read_frame(cmpp.so)
    if frame is None or frame[0] != CONNECT_RESP:
        raise RuntimeError(f"expected CONNECT_RESP, got {frame!r}")
    response = ConnectResponseInstance()
    response.resolve(frame[2])
    expected = hashlib.md5(bytes([response.status]) + request.auth_source + secret.encode()).digest()
    return {
        "status": response.status,
        "authenticator_ismg_ok": response.authenticator_ISMG == expected,
        "version": response.version,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("sp_id")
    parser.add_argument("secret")
    parser.add_argument("--timeout", type=float, default=15)
    args = parser.parse_args()
    out = {"ok": False}

    # A wrong secret first: refused with Status 3, and the link closed.
    wrong = Cmpp(args.host, args.port, args.sp_id, args.secret + "x", "", delivery=1, client_heartbeat=False)
    wrong.so.settimeout(args.timeout)
    wrong.connect()
    out["wrong_secret"] = {"status": login(wrong, args.secret + "x")["status"], "closed": read_frame(wrong.so) is None}
    wrong.close()

    cmpp = Cmpp(args.host, args.port, args.sp_id, args.secret, "10690001", delivery=1, client_heartbeat=False)
    cmpp.so.settimeout(args.timeout)
    cmpp.connect()
    out["connect"] = login(cmpp, args.secret)

    cmpp.submit(LONG_TEXT, ["13800138000"])
    parts = -(-len(LONG_TEXT) // 64)
    out["parts"] = parts
    submits, receipts = [], []
    while len(submits) < parts or len(receipts) < parts:
        frame = read_frame(cmpp.so)
        if frame is None:
            raise RuntimeError("the sim closed the link")
        command_id, sequence_id, whole = frame
        if command_id == SUBMIT_RESP:
            response = SubmitResponseInstance()
            response.resolve(whole)
            submits.append({"sequence_id": sequence_id, "msg_id": response.msg_id, "result": response.status})
        elif command_id == DELIVER:
            msg_id, registered_delivery, report = parse_report_deliver(whole)
            if report is not None:
                receipts.append(report)
            # DELIVER_RESP (2.0): Msg_Id 8, Result 1.
            cmpp.send(struct.pack("!LLLQB", 21, DELIVER_RESP, sequence_id, msg_id, 0))
        else:
            raise RuntimeError(f"unexpected command 0x{command_id:08x}")
    out["submits"] = submits
    out["receipts"] = receipts
    out["receipts_matched"] = sum(1 for r in receipts if r["msg_id"] in {s["msg_id"] for s in submits})

    cmpp.send(ActiveTestRequestInstance().create())
    frame = read_frame(cmpp.so)
    out["active_test"] = frame is not None and frame[0] == ACTIVE_TEST_RESP
    cmpp.terminate()
    frame = read_frame(cmpp.so)
    out["terminate"] = frame is not None and frame[0] == TERMINATE_RESP
    out["closed_after_terminate"] = read_frame(cmpp.so) is None
    cmpp.close()
    out["ok"] = True
    print(json.dumps(out))


if __name__ == "__main__":
    main()
