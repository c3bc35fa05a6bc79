"""Connection hygiene (issue 4): connections per source address, connections
not yet logged in, commands, bytes and time before authentication, and
slow-loris clients.  Clients come from distinct loopback addresses
(loopback is not exempt).  Pre-authentication limits apply to submission
and POP3; the inbound SMTP port (25) never authenticates and keeps only its
usual limits, but the per-source limit applies to every service."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import PASSWORD, Raw, Suite, client_tls  # noqa: E402
from mailcheck import case, setup, teardown_all  # noqa: E402

suite = Suite()
t = case(suite)

ALICE = "alice@example.test"


class Src(Raw):
    """A Raw client connecting from a chosen loopback address."""

    def __init__(self, srv, service, source, tls=False, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", srv.port(service)), timeout=timeout,
                                             source_address=(source, 0))
        if tls:
            self.sock = client_tls().wrap_socket(self.sock, server_hostname="mail.example.test")
        self.buf = b""


def limits(**kw):
    return "[limits]\n" + "".join("%s = %s\n" % kv for kv in kw.items())


def greeted(srv, service, source):
    c = Src(srv, service, source)
    g = c.line()
    assert g.startswith("+OK") or g.startswith("220"), g
    return c


def greeted_when_free(srv, service, source):
    """greeted(), retried while the server still counts a connection that
    was closed just before (the harness no longer opens any at start-up:
    it waits for the listeners in /proc)."""
    deadline = time.time() + 5
    while True:
        c = Src(srv, service, source)
        g = c.line()
        if g.startswith("+OK") or g.startswith("220"):
            return c
        c.close()
        assert time.time() < deadline, g
        time.sleep(0.1)


def pop3_login(c, user=ALICE):
    c.send("USER %s\r\nPASS %s\r\n" % (user, PASSWORD))
    assert c.line().startswith("+OK")
    r = c.line()
    assert r.startswith("+OK"), r


def last_words(c, timeout=10):
    """The server's last line and whether it then closed."""
    line = c.line()
    return line, c.closed(timeout)


@t
def per_source_limit(f):
    srv = f.std(extra=limits(max_connections_per_ip=3))
    a, b = "127.0.1.21", "127.0.1.22"
    held = [greeted(srv, "smtp", a), greeted(srv, "pop3", a), greeted(srv, "submission", a)]
    try:
        # A fourth from the same address, on any service, is refused with
        # one line in its protocol.
        c = Src(srv, "smtp", a)
        line, closed = last_words(c)
        assert line.startswith("421 4.7.0") and "Too many connections from your address" in line, line
        assert closed
        c = Src(srv, "pop3", a)
        line, closed = last_words(c)
        assert line.startswith("-ERR [SYS/TEMP]") and "Too many connections" in line, line
        assert closed
        # implicit TLS: closed before any handshake
        c = Src(srv, "pop3s", a)
        assert c.closed(5)
        c.close()
        # Another address is not affected.
        other = [greeted(srv, s, b) for s in ("smtp", "pop3", "submission")]
        for o in other:
            o.close()
        # A freed slot can be taken again.
        held.pop().close()
        deadline = time.time() + 5
        while True:
            c = Src(srv, "pop3", a)
            g = c.line()
            if g.startswith("+OK"):
                break
            c.close()
            assert time.time() < deadline, "slot not given back: " + g
            time.sleep(0.1)
        pop3_login(c)
        held.append(c)
    finally:
        for c in held:
            c.close()
    assert "reason=max_connections_per_ip" in srv.tail(400)


@t
def unauthenticated_total(f):
    srv = f.std(extra=limits(max_unauthenticated=2))
    src = "127.0.1.31"
    waiting = [greeted_when_free(srv, "pop3", src)]
    waiting.append(greeted_when_free(srv, "submission", src))
    try:
        c = Src(srv, "pop3", src)
        line, closed = last_words(c)
        assert line.startswith("-ERR [SYS/TEMP]") and "waiting to log in" in line, line
        assert closed
        c = Src(srv, "submission", src)
        line, closed = last_words(c)
        assert line.startswith("421 4.7.0") and "waiting to log in" in line, line
        # Port 25 does not authenticate and is not counted.
        m = greeted(srv, "smtp", src)
        m.send("NOOP\r\n")
        assert m.reply()[-1].startswith("250")
        m.close()
        # Once one logs in, another may connect.
        pop3_login(waiting[0])
        c = greeted(srv, "pop3", src)
        c.close()
    finally:
        for c in waiting:
            c.close()


@t
def commands_before_auth(f):
    srv = f.std(extra=limits(max_commands_before_auth=5))
    src = "127.0.1.41"
    c = greeted(srv, "pop3", src)
    for _ in range(5):
        c.send("CAPA\r\n")
        assert c.line().startswith("+OK")
        while c.line() != ".":
            pass
    c.send("CAPA\r\n")
    line, closed = last_words(c)
    assert line == "-ERR Too many commands before login, closing.", line
    assert closed
    c.close()

    c = greeted(srv, "submission", src)
    for _ in range(5):
        c.send("NOOP\r\n")
        assert c.reply()[-1].startswith("250")
    c.send("NOOP\r\n")
    line, closed = last_words(c)
    assert line.startswith("421 4.7.0") and "Too many commands before authentication" in line, line
    assert closed
    c.close()

    # Port 25 has no such limit.
    c = greeted(srv, "smtp", src)
    for _ in range(30):
        c.send("NOOP\r\n")
        assert c.reply()[-1].startswith("250")
    c.close()

    # Logged in (2 commands), any number of commands.
    c = greeted(srv, "pop3", src)
    pop3_login(c)
    for _ in range(30):
        c.send("NOOP\r\n")
        assert c.line().startswith("+OK")
    c.send("QUIT\r\n")
    c.close()


@t
def bytes_before_auth(f):
    srv = f.std(extra=limits(max_bytes_before_auth="1K", max_commands_before_auth=0))
    src = "127.0.1.51"
    for service, want in (("pop3", "-ERR Too much data before login"),
                          ("submission", "421 4.7.0 mail.example.test Too much data before authentication")):
        c = greeted(srv, service, src)
        c.send("X" * 2000)  # a partial line, never finished
        line, closed = last_words(c)
        assert line.startswith(want), (service, line)
        assert closed, service
        c.close()
    # Port 25: 4 KB of commands are fine.
    c = greeted(srv, "smtp", src)
    for _ in range(10):
        c.send("NOOP " + "y" * 400 + "\r\n")
        assert c.reply()[-1].startswith("250")
    c.close()
    # After login the limit is gone.
    c = greeted(srv, "pop3", src)
    pop3_login(c)
    for _ in range(100):
        c.send("NOOP\r\n")
    for _ in range(100):
        assert c.line().startswith("+OK")
    c.close()


@t
def auth_timeout(f):
    srv = f.std(extra=limits(auth_timeout=2))
    src = "127.0.1.61"
    pop = greeted(srv, "pop3", src)
    sub = greeted(srv, "submission", src)
    mta = greeted(srv, "smtp", src)
    done = greeted(srv, "pop3", src)
    pop3_login(done)
    t0 = time.time()
    try:
        # Activity does not extend the time to log in.
        for _ in range(3):
            time.sleep(0.5)
            pop.send("CAPA\r\n")
            sub.send("NOOP\r\n")
        assert sub.closed(8) and pop.closed(8)
        assert time.time() - t0 < 6
        text = sub.buf.decode()
        assert "421 4.7.0 mail.example.test No authentication within 2 seconds" in text, text
        lines = pop.buf.decode().split("\r\n")
        assert "-ERR [SYS/TEMP] No login within 2 seconds, closing." in lines, lines
        # Port 25 and the logged-in session stay.
        time.sleep(max(0, 3 - (time.time() - t0)))
        mta.send("NOOP\r\n")
        assert mta.reply()[-1].startswith("250")
        done.send("STAT\r\n")
        assert done.line().startswith("+OK")
    finally:
        for c in (pop, sub, mta, done):
            c.close()
    assert "reason=auth-timeout" in srv.tail(400)


@t
def slow_loris(f):
    srv = f.std(extra=limits(auth_timeout=2))
    src = "127.0.1.71"
    trickle = [greeted(srv, s, src) for s in ("pop3", "submission", "pop3", "submission")]
    tls = Src(srv, "pop3s", src, tls=True)
    assert tls.line().startswith("+OK")
    trickle.append(tls)
    t0 = time.time()
    closed = set()
    try:
        # One byte every 200 ms, never a whole line.
        while len(closed) < len(trickle) and time.time() - t0 < 8:
            for i, c in enumerate(trickle):
                if i in closed:
                    continue
                try:
                    c.send("x")
                except OSError:
                    closed.add(i)
            time.sleep(0.2)
            for i, c in enumerate(trickle):
                if i not in closed and c.closed(0.01):
                    closed.add(i)
        assert len(closed) == len(trickle), "still open after %.1f s" % (time.time() - t0)
        assert time.time() - t0 < 6
    finally:
        for c in trickle:
            c.close()
    # The server is fine and the slots are free again.
    c = greeted(srv, "pop3", src)
    pop3_login(c)
    c.close()


suite.run(setup, teardown_all)
