#!/usr/bin/env python3
"""Probe: memory of IMAP FETCH against slow readers (issue 8, defect 1).

Starts a throw-away Tern (tests/e2e/harness.py), stores one message of
--size MiB, opens --sessions IMAP sessions that each send
`FETCH 1 BODY.PEEK[]` and then read it slowly (--rate KiB/s each, with a
small receive buffer), and prints the server's anonymous memory (RssAnon
of /proc/PID/status) before the sessions, at its peak while they read,
and after they have gone.  A probe prints; it asserts nothing.

    python3 bench/hostile/fetch_slow_reader.py                   # 200 x 50 MiB
    python3 bench/hostile/fetch_slow_reader.py --sessions 1000   # the issue's case
    TERN_BIN=/path/to/old/tern python3 bench/hostile/fetch_slow_reader.py --sessions 20

Logins are real password checks (yescrypt), so opening many sessions
takes a while; the clock for --seconds starts when every FETCH is sent."""

import argparse
import os
import resource
import socket
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

from harness import PASSWORD, Server  # noqa: E402

MIB = 1024 * 1024
USER = "slow@example.test"


def rss_anon(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    return 0


def recv_until(sock, token):
    data = b""
    while token not in data:
        d = sock.recv(65536)
        if not d:
            raise EOFError("server closed: %r" % data[-200:])
        data += d
    return data


def append_big(port, size):
    """One message of size octets, appended with LITERAL+."""
    head = b"From: <a@example.org>\r\nSubject: big\r\n\r\n"
    line = b"a line of text in a large message, for the slow reader probe\r\n"
    body = line * ((size - len(head)) // len(line))
    msg = head + body
    s = socket.create_connection(("127.0.0.1", port))
    recv_until(s, b"\r\n")
    s.sendall(b'l LOGIN "%s" "%s"\r\n' % (USER.encode(), PASSWORD.encode()))
    recv_until(s, b"l OK")
    s.sendall(b"a APPEND INBOX {%d+}\r\n" % len(msg))
    for i in range(0, len(msg), MIB):
        s.sendall(msg[i:i + MIB])
    s.sendall(b"\r\n")
    recv_until(s, b"a OK")
    s.close()
    return len(msg)


def open_session(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.settimeout(120)
    s.connect(("127.0.0.1", port))
    recv_until(s, b"\r\n")
    s.sendall(b'l LOGIN "%s" "%s"\r\ns SELECT INBOX\r\n' % (USER.encode(), PASSWORD.encode()))
    recv_until(s, b"s OK")
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--size", type=int, default=50, help="message size in MiB")
    ap.add_argument("--rate", type=int, default=64, help="KiB/s each session reads")
    ap.add_argument("--seconds", type=float, default=20, help="how long the sessions read")
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    extra = "[limits]\nmax_connections_per_ip = 0\nmax_connections = %d\n" % (args.sessions + 100)
    srv = Server(max_message_size="%dM" % (args.size + 10), extra=extra, tls=False)
    try:
        srv.add_user(USER)
        srv.start()
        port = srv.port("imap")
        pid = srv.proc.pid
        size = append_big(port, args.size * MIB)
        print("message: %.1f MiB; sessions: %d reading %d KiB/s each for %.0f s"
              % (size / MIB, args.sessions, args.rate, args.seconds), flush=True)
        socks = []
        t0 = time.time()
        for i in range(args.sessions):
            socks.append(open_session(port))
        print("logged in %d sessions in %.1f s" % (len(socks), time.time() - t0), flush=True)
        before = rss_anon(pid)
        for s in socks:
            s.sendall(b"f FETCH 1 BODY.PEEK[]\r\n")
            s.setblocking(False)
        peak = before
        got = [0] * len(socks)
        closed = 0
        tick = 0.1
        per_tick = max(1, args.rate * 1024 * tick)
        end = time.time() + args.seconds
        while time.time() < end:
            t = time.time()
            for i, s in enumerate(socks):
                if s is None:
                    continue
                want = int(per_tick)
                try:
                    while want > 0:
                        d = s.recv(min(want, 65536))
                        if not d:
                            socks[i] = None
                            closed += 1
                            break
                        got[i] += len(d)
                        want -= len(d)
                except BlockingIOError:
                    pass
            peak = max(peak, rss_anon(pid))
            time.sleep(max(0, tick - (time.time() - t)))
        read = sum(got)
        for s in socks:
            if s is not None:
                s.close()
        time.sleep(2)
        after = rss_anon(pid)
        n = args.sessions
        print("read %.1f MiB in all (%.2f MiB a session); %d sessions closed by the server"
              % (read / MIB, read / MIB / n, closed))
        print("RssAnon before %.1f MiB, peak %.1f MiB (+%.1f MiB, %.0f KiB a session), after %.1f MiB"
              % (before / MIB, peak / MIB, (peak - before) / MIB, (peak - before) / 1024 / n, after / MIB))
    finally:
        srv.cleanup()


if __name__ == "__main__":
    main()
