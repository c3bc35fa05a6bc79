#!/usr/bin/python3
"""A small authoritative DNS server for tests, on python3-dnslib.

It answers for every name in its zone, over UDP and TCP on loopback, with
TTL 0 by default so that a resolver caches nothing between test steps.

The zone is a dict (or a JSON file holding one), name -> records:

    {
      "example.net":      {"MX": [[10, "mx1.example.net"], [10, "mx2.example.net"]],
                           "TXT": ["v=spf1 -all", ["two", "strings"]]},
      "mx1.example.net":  {"A": ["127.0.0.1"], "AAAA": ["::1"]},
      "www.example.net":  {"CNAME": "mx1.example.net"},
      "_25._tcp.mx1.example.net": {"TLSA": [[3, 1, 1, "ab12..."]]},
      "broken.example.net": {"fault": "servfail"},
      "slow.example.net":   {"fault": "drop"}
    }

A TXT given as one string is split into 255-byte strings; a list gives
the strings themselves.  A name not in the zone (and not above one that
is) is NXDOMAIN; a known name without the asked type is NODATA.  Faults:
"servfail" answers SERVFAIL, "drop" does not answer at all (timeouts).
An optional "ttl" key at the top sets the TTL of every record.

As a library:
    srv = DNSServer({"example.net": {...}}); srv.start(); srv.port
    srv.set({...})     # replace the zone while running
    srv.stop()
Given a file name instead, the file is read again whenever its mtime
changes, so a test can rewrite it between steps.

As a command:
    /usr/bin/python3 tests/e2e/dnsserver.py [--host H] [--port N]
        [--port-file F] zone.json
prints "port N" on stdout (and writes N to the port file) once it
listens, and serves until SIGTERM or SIGINT.
"""

import argparse
import json
import os
import select
import signal
import socket
import struct
import sys
import threading

from dnslib import AAAA, CNAME, EDNS0, MX, QTYPE, RCODE, RR, SOA, TLSA, TXT, A, DNSRecord

CNAME_CHAIN_MAX = 8


def _norm(name):
    return str(name).rstrip(".").lower()


def _txt_strings(value):
    if isinstance(value, list):
        return [s.encode() if isinstance(s, str) else s for s in value]
    data = value.encode()
    return [data[i:i + 255] for i in range(0, len(data), 255)] or [b""]


def _rdata(rtype, value):
    if rtype == "A":
        return A(value)
    if rtype == "AAAA":
        return AAAA(value)
    if rtype == "MX":
        return MX(value[1], value[0])
    if rtype == "TXT":
        return TXT(_txt_strings(value))
    if rtype == "CNAME":
        return CNAME(value)
    if rtype == "TLSA":
        return TLSA(value[0], value[1], value[2], bytes.fromhex(value[3]))
    raise ValueError("dnsserver: unsupported type %s" % rtype)


class DNSServer:
    def __init__(self, zone, host="127.0.0.1", port=0):
        self.host = host
        self.port = port
        self.queries = []           # (name, type) of every query, for tests
        self._file = None
        self._mtime = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []
        if isinstance(zone, (str, os.PathLike)):
            self._file = str(zone)
            self._reload()
        else:
            self.set(zone)

    # ---- the zone

    def set(self, zone):
        """Replaces every record (a dict as in the module comment)."""
        zone = dict(zone)
        ttl = int(zone.pop("ttl", 0))
        names = {_norm(k): v for k, v in zone.items()}
        with self._lock:
            self._zone, self._ttl = names, ttl

    def _reload(self):
        try:
            mtime = os.stat(self._file).st_mtime_ns
        except OSError:
            return
        if mtime != self._mtime:
            with open(self._file) as f:
                zone = json.load(f)
            self._mtime = mtime
            self.set(zone)

    def _exists(self, name, zone):
        # a name above a known one exists too (an empty non-terminal)
        return name in zone or any(k.endswith("." + name) for k in zone)

    # ---- answering

    def answer(self, request):
        """Returns the reply to a parsed query, or None to drop it."""
        if self._file is not None:
            self._reload()
        with self._lock:
            zone, ttl = self._zone, self._ttl
        q = request.q
        qname, qtype = _norm(q.qname), QTYPE[q.qtype]
        self.queries.append((qname, qtype))
        reply = request.reply()
        reply.header.ra = 0
        fault = zone.get(qname, {}).get("fault")
        if fault == "drop":
            return None
        if fault == "servfail":
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        name = qname
        for _ in range(CNAME_CHAIN_MAX):
            records = zone.get(name)
            if records is None:
                break
            if "CNAME" in records and qtype != "CNAME":
                # follow the alias inside the zone, as an authoritative
                # server does; a target outside it is left to the resolver
                reply.add_answer(RR(name, QTYPE.CNAME, ttl=ttl, rdata=_rdata("CNAME", records["CNAME"])))
                name = _norm(records["CNAME"])
                continue
            values = records.get(qtype, [])
            if qtype == "CNAME":
                values = [records["CNAME"]] if "CNAME" in records else []
            for value in values:
                reply.add_answer(RR(name, getattr(QTYPE, qtype), ttl=ttl, rdata=_rdata(qtype, value)))
            break
        if not reply.rr:
            if not self._exists(qname, zone):
                reply.header.rcode = RCODE.NXDOMAIN
            apex = ".".join(qname.split(".")[-2:])
            reply.add_auth(RR(apex, QTYPE.SOA, ttl=ttl,
                              rdata=SOA("ns." + apex, "hostmaster." + apex, (1, 0, 0, 0, 0))))
        return reply

    def _handle(self, data, limit):
        try:
            request = DNSRecord.parse(data)
        except Exception:
            return None
        reply = self.answer(request)
        if reply is None:
            return None
        edns = [r for r in request.ar if r.rtype == QTYPE.OPT]
        if edns:
            reply.add_ar(EDNS0(udp_len=1232))
        packed = reply.pack()
        if limit is not None:
            limit = max(512, edns[0].rclass) if edns else 512
            if len(packed) > limit:   # UDP: say "truncated", the client retries on TCP
                reply = request.reply()
                reply.header.tc = 1
                packed = reply.pack()
        return packed

    # ---- sockets

    def start(self):
        for _ in range(20):   # port 0: find one free for both UDP and TCP
            udp = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind((self.host, self.port))
            port = udp.getsockname()[1]
            tcp = socket.socket(udp.family, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                tcp.bind((self.host, port))
            except OSError:
                udp.close()
                tcp.close()
                if self.port != 0:
                    raise
                continue
            break
        else:
            raise OSError("dnsserver: no free port")
        tcp.listen(16)
        self.port = port
        self._udp, self._tcp = udp, tcp
        for fn in (self._serve_udp, self._serve_tcp):
            t = threading.Thread(target=fn, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join()
        self._udp.close()
        self._tcp.close()

    def _serve_udp(self):
        while not self._stop.is_set():
            if not select.select([self._udp], [], [], 0.1)[0]:
                continue
            data, peer = self._udp.recvfrom(65535)
            out = self._handle(data, 512)
            if out is not None:
                self._udp.sendto(out, peer)

    def _serve_tcp(self):
        while not self._stop.is_set():
            if not select.select([self._tcp], [], [], 0.1)[0]:
                continue
            conn, _ = self._tcp.accept()
            threading.Thread(target=self._tcp_conn, args=(conn,), daemon=True).start()

    def _tcp_conn(self, conn):
        conn.settimeout(5)
        with conn:
            try:
                while True:
                    head = self._recv(conn, 2)
                    data = self._recv(conn, struct.unpack("!H", head)[0])
                    out = self._handle(data, None)
                    if out is None:
                        return
                    conn.sendall(struct.pack("!H", len(out)) + out)
            except (OSError, EOFError, struct.error):
                return

    @staticmethod
    def _recv(conn, n):
        buf = b""
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf


def main():
    ap = argparse.ArgumentParser(description="authoritative DNS server for tests")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("zone", help="JSON zone file (read again when it changes)")
    args = ap.parse_args()
    srv = DNSServer(args.zone, args.host, args.port).start()
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % srv.port)
        os.rename(tmp, args.port_file)
    print("port %d" % srv.port, flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    while not done.wait(1):
        pass
    srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
