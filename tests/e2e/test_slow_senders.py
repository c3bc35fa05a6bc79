"""Slow senders and connection budgets (issue 8, defect 2).

A client that dribbles a message (SMTP DATA or BDAT, an IMAP APPEND
literal) a byte at a time is ended by [limits] data_deadline and
min_data_rate: SMTP answers 421 4.4.2, IMAP says BYE, the connection
closes and nothing of the message is stored.  A sender that keeps up the
minimum rate may take longer than data_deadline in total.  Port 25 has its
own share of max_connections (max_connections_smtp, half by default), so
that a flood of port-25 connections leaves room for IMAP, POP3 and
submission users; a refusal at accept speaks the refused protocol.

The deadlines here are short (3 s, 100 bytes/s) and the dribble is one
byte every 0.2 s (5 bytes/s): the server must give up after about 3 s.  A
case gives up itself after DRIBBLE_MAX seconds and fails: it asserts what
happens (a 421, a close, counts), never how long it took."""

import imaplib
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import PASSWORD, Raw, Suite  # noqa: E402
from imapcheck import Conn  # noqa: E402
from mailcheck import (  # noqa: E402
    HOST, assert_delivered_exact, case, deliver, fetch_all, message, pop3, pop3_count, raw_smtp, setup,
    submission, teardown_all)

suite = Suite()
t = case(suite)

ALICE = "alice@example.test"
SLOW = "[limits]\ndata_deadline = 3\nmin_data_rate = 100\n"
DRIBBLE_MAX = 30          # seconds a case dribbles before it gives up


def dribble(sock, data=b"x", every=0.2, limit=DRIBBLE_MAX):
    """Sends data one byte every `every` seconds (cycling) until the server
    says something or closes; returns what it said (b"" if it closed
    without a word), or None if it said nothing within limit seconds."""
    deadline = time.time() + limit
    i = 0
    while time.time() < deadline:
        try:
            sock.sendall(data[i % len(data):i % len(data) + 1])
        except (BrokenPipeError, ConnectionResetError):
            return b""
        i += 1
        sock.settimeout(every)
        try:
            got = sock.recv(4096)
            return got
        except (socket.timeout, TimeoutError):
            continue
        except ConnectionResetError:
            return b""
    return None


def spool_files(srv):
    d = os.path.join(srv.data, "spool")
    return os.listdir(d) if os.path.isdir(d) else []


def assert_timed_out(r, said):
    assert said is not None, "still receiving after %d s of a 5 bytes/s dribble" % DRIBBLE_MAX
    line = (r.buf + said).decode("utf-8", "replace")
    assert line.startswith("421 4.4.2 "), "expected 421 4.4.2, got %r" % line
    assert "timeout" in line.lower(), line
    assert r.closed(10), "connection still open after the 421"


def mail_to_alice(r):
    r.send("MAIL FROM:<slow@example.org>\r\nRCPT TO:<%s>\r\n" % ALICE)
    for _ in range(2):
        rep = r.reply()
        assert rep[-1].startswith("250"), rep


@t
def data_dribble_gets_421(f):
    srv = f.std(extra=SLOW)
    r = raw_smtp(srv)
    try:
        mail_to_alice(r)
        r.send("DATA\r\n")
        assert r.reply()[-1].startswith("354")
        r.send(b"Subject: dribble\r\n\r\n")
        assert_timed_out(r, dribble(r.sock))
    finally:
        r.close()
    assert pop3_count(srv, ALICE) == 0
    assert spool_files(srv) == [], spool_files(srv)
    assert 'result=rejected reason="data deadline"' in srv.tail(400)
    # The server goes on: a message sent at once is taken.
    assert deliver(srv, ALICE, message(subject="after")) == {}
    assert pop3_count(srv, ALICE) == 1


@t
def bdat_dribble_gets_421(f):
    srv = f.std(extra=SLOW)
    r = raw_smtp(srv)
    try:
        mail_to_alice(r)
        r.send("BDAT 100000 LAST\r\n")
        assert_timed_out(r, dribble(r.sock))
    finally:
        r.close()
    assert pop3_count(srv, ALICE) == 0
    assert spool_files(srv) == [], spool_files(srv)
    assert 'result=rejected reason="data deadline"' in srv.tail(400)


@t
def bdat_tiny_chunks_get_421(f):
    """One-byte chunks, each answered: the deadline covers the message from
    its first chunk, not each chunk."""
    srv = f.std(extra=SLOW)
    r = raw_smtp(srv)
    try:
        mail_to_alice(r)
        said = None
        t0 = time.time()
        while time.time() - t0 < DRIBBLE_MAX:
            r.send("BDAT 1\r\nx")
            rep = r.reply()[-1]
            if not rep.startswith("250"):
                said = rep
                break
            time.sleep(0.2)
        assert said is not None, "1-byte BDAT chunks every 0.2 s still taken after %d s" % DRIBBLE_MAX
        assert said.startswith("421 4.4.2 "), said
        assert r.closed(10)
    finally:
        r.close()
    assert pop3_count(srv, ALICE) == 0
    assert spool_files(srv) == []


@t
def steady_sender_may_take_longer_than_the_deadline(f):
    """2 s of credit and 1000 bytes/s: 8 pieces of 1000 bytes, one every
    0.5 s (2000 bytes/s), take about 4 s in all and are accepted."""
    srv = f.std(extra="[limits]\ndata_deadline = 2\nmin_data_rate = 1000\n")
    body = "".join("%07d" % i + "y" * 90 + "\r\n" for i in range(80))
    msg = message(subject="steady", body=body)
    r = raw_smtp(srv)
    try:
        mail_to_alice(r)
        r.send("DATA\r\n")
        assert r.reply()[-1].startswith("354")
        for i in range(0, len(msg), 1000):
            r.send(msg[i:i + 1000])
            time.sleep(0.5)
        r.send(b".\r\n")
        rep = r.reply()
        assert rep[-1].startswith("250"), rep
    finally:
        r.close()
    assert_delivered_exact(fetch_all(srv, ALICE)[0], msg)


@t
def imap_append_dribble_gets_bye(f):
    srv = f.std(extra=SLOW)
    c = Conn(srv.port("imap"))
    try:
        c.login(ALICE)
        # Over 16 KiB: the literal streams to a spool file as it comes.
        c.send(b"a1 APPEND INBOX {20000}\r\n")
        assert c.line().startswith(b"+"), "no continuation"
        c.send(b"Subject: dribble\r\n\r\n")
        said = dribble(c.sock)
        assert said is not None, "APPEND literal still read after %d s of dribble" % DRIBBLE_MAX
        line = (c.buf + said).decode("utf-8", "replace")
        assert line.startswith("* BYE"), line
        assert c.closed(10)
    finally:
        c.close()
    c = Conn(srv.port("imap"))
    try:
        c.login(ALICE)
        u = c.ok("STATUS INBOX (MESSAGES)")
        assert b"(MESSAGES 0)" in u[0], u
        c.logout()
    finally:
        c.close()
    assert spool_files(srv) == []
    assert "reason=data-deadline" in srv.tail(400)


class Src(Raw):
    """A Raw client from a chosen loopback address (as test_limits_auth.py)."""

    def __init__(self, port, source, timeout=10):
        self.sock = socket.create_connection((HOST, port), timeout=timeout, source_address=(source, 0))
        self.buf = b""


def held_smtp(srv, i):
    """A port-25 connection from its own address: max_connections_per_ip
    (50) is not what is tested."""
    return Src(srv.port("smtp"), "127.0.8.%d" % (i + 1))


def greeted_when_free(connect, ok, limit=10):
    """connect() until its greeting passes ok(): a connection closed just
    before may still be counted until the server has noticed."""
    deadline = time.time() + limit
    while True:
        c = connect()
        g = c.line()
        if isinstance(g, bytes):
            g = g.decode("utf-8", "replace")
        if ok(g):
            return c
        c.close()
        assert time.time() < deadline, g
        time.sleep(0.1)


@t
def port25_budget_leaves_room_for_imap_and_pop3(f):
    # max_connections_smtp is left out: half of max_connections, 10.
    srv = f.std(extra="[limits]\nmax_connections = 20\n")
    held = []
    try:
        for i in range(10):
            r = held_smtp(srv, i)
            held.append(r)
            g = r.reply()
            assert g[0].startswith("220"), g
        # Port 25 is full: the next one is refused in SMTP.
        r = held_smtp(srv, 20)
        line = r.line()
        assert line.startswith("421 4.7.0") and "Too many connections" in line, line
        assert r.closed(5)
        r.close()
        # IMAP, POP3 and submission users still get in.
        m = imaplib.IMAP4(HOST, srv.port("imap"), timeout=15)
        m.login(ALICE, PASSWORD)
        typ, data = m.select("INBOX")
        assert typ == "OK", (typ, data)
        m.logout()
        p = pop3(srv, ALICE)
        assert p.stat()[0] == 0
        p.quit()
        s = submission(srv, ALICE)
        s.noop()
        s.quit()
        # The rest of max_connections: 10 POP3 connections.  Then an IMAP
        # client is refused in IMAP, a POP3 client in POP3.
        for i in range(10):
            held.append(greeted_when_free(lambda: Raw(srv.port("pop3")), lambda g: g.startswith("+OK")))
        c = Conn(srv.port("imap"), greet=False)
        line = c.line().decode()
        assert line.startswith("* BYE [UNAVAILABLE]") and "Too many connections" in line, line
        assert c.closed(5)
        c.close()
        c = Raw(srv.port("pop3"))
        line = c.line()
        assert line.startswith("-ERR [SYS/TEMP]") and "Too many connections" in line, line
        c.close()
    finally:
        for r in held:
            r.close()
    assert "max_connections_smtp=10 reached" in srv.tail(400)
    # Once they are gone, port 25 takes mail again.
    deadline = time.time() + 10
    while True:
        try:
            assert deliver(srv, ALICE, message()) == {}
            break
        except Exception:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


suite.run(setup, teardown_all)
