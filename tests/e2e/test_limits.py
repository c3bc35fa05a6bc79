"""End-to-end tests of promises 2 and 3: bounds on what clients send, and
that slow or idle clients never stall the others."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import PASSWORD, Raw, Suite  # noqa: E402
from mailcheck import (  # noqa: E402
    HOST, assert_delivered_exact, case, deliver, fetch_all, message, pop3, pop3_count, raw_pop3, raw_smtp, retr,
    setup, teardown_all)

suite = Suite()
t = case(suite)

ALICE = "alice@example.test"


@t
def data_line_over_bound(f):
    srv = f.std()
    r = raw_smtp(srv)
    try:
        r.send("MAIL FROM:<s@example.org>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
        for want in ("250", "250", "354"):
            assert r.reply()[-1].startswith(want)
        r.send(b"Subject: long line\r\n\r\n")
        chunk = b"z" * 65536
        for _ in range(32):  # one 2 MB line, over SMTP_TEXT_LINE_MAX (1 MB)
            r.send(chunk)
        r.send(b"\r\n.\r\n")
        rep = r.reply()
        assert rep[-1][0] == "5", "a 2 MB line was accepted: %r" % rep
        r.send("NOOP\r\n")
        assert r.reply()[-1].startswith("250"), "session lost after an overlong DATA line"
    finally:
        r.close()
    assert pop3_count(srv, ALICE) == 0


@t
def many_idle_connections(f):
    srv = f.std()
    idle = []
    try:
        for i in range(300):
            service = ("smtp", "pop3", "submission", "pop3s", "submissions")[i % 5]
            # from 10 addresses: 30 each, well under max_connections_per_ip
            idle.append(socket.create_connection((HOST, srv.port(service)), timeout=10,
                                                 source_address=("127.0.4.%d" % (i % 10 + 1), 0)))
        msg = message(subject="among the idle")
        t0 = time.time()
        assert deliver(srv, ALICE, msg) == {}
        got = fetch_all(srv, ALICE)
        assert_delivered_exact(got[0], msg)
        assert time.time() - t0 < 20
    finally:
        for s in idle:
            s.close()


@t
def slow_reader_does_not_stall_others(f):
    srv = f.std()
    # 12 MB: more than the kernel's socket buffers hold, so the server has
    # to wait for this reader with most of the message unsent.
    big = message(subject="big", body=("b" * 998 + "\r\n") * 12000)
    assert deliver(srv, ALICE, big) == {}
    r = raw_pop3(srv)
    try:
        r.send("USER %s\r\n" % ALICE)
        r.line()
        r.send("PASS %s\r\n" % PASSWORD)
        assert r.line().startswith("+OK")
        r.send("RETR 1\r\n")  # and do not read it
        time.sleep(0.5)
        t0 = time.time()
        small = message(subject="meanwhile", to="bob@example.test")
        assert deliver(srv, "bob@example.test", small) == {}
        assert_delivered_exact(fetch_all(srv, "bob@example.test")[0], small)
        assert time.time() - t0 < 20
        # The slow reader can still read it all, byte-exact.
        assert r.line().startswith("+OK")
        lines = []
        while True:
            l = r.line()
            if l == ".":
                break
            lines.append(l[1:] if l.startswith("..") else l)
        from mailcheck import split_trace
        _, rest = split_trace("".join(l + "\r\n" for l in lines).encode())
        assert rest == big, "slow RETR differs"
    finally:
        r.close()


@t
def slow_writer_does_not_stall_others(f):
    srv = f.std()
    r = raw_smtp(srv)
    try:
        r.send("MAIL FROM:<s@example.org>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
        for _ in range(3):
            r.reply()
        for ch in "Subject: drip\r\n\r\n":
            r.send(ch)
            time.sleep(0.02)
        # In the middle of the drip, others go on.
        assert deliver(srv, "bob@example.test", message(subject="fast")) == {}
        assert pop3_count(srv, "bob@example.test") == 1
        for ch in "drip drip\r\n.\r\n":
            r.send(ch)
            time.sleep(0.02)
        assert r.reply()[-1].startswith("250")
    finally:
        r.close()
    assert pop3_count(srv, ALICE) == 1


@t
def max_connections_enforced(f):
    srv = f.std(extra="max_connections = 20\n")
    held = []
    try:
        for i in range(20):
            held.append(raw_pop3(srv))
        refused = 0
        for i in range(5):
            try:
                s = Raw(srv.port("smtp"), timeout=5)
            except OSError:
                refused += 1
                continue
            try:
                line = s.line()
                assert line.startswith("421") or line.startswith("-ERR"), "connection over the limit: %r" % line
                refused += 1
            except (EOFError, ConnectionResetError):
                refused += 1
            except (socket.timeout, TimeoutError):
                raise AssertionError("a connection over max_connections hangs without an answer")
            finally:
                s.close()
        assert refused == 5, refused
    finally:
        for r in held:
            r.close()
    # Once the others are gone, service resumes.
    deadline = time.time() + 10
    while True:
        try:
            assert deliver(srv, ALICE, message()) == {}
            break
        except Exception:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


@t
def big_mailbox_listing(f):
    srv = f.std()
    # 300 messages over one pipelined session.
    r = raw_smtp(srv)
    try:
        for i in range(300):
            m = message(subject="n%d" % i)
            r.send(b"MAIL FROM:<s@example.org>\r\nRCPT TO:<alice@example.test>\r\nBDAT %d LAST\r\n" % len(m) + m)
        for i in range(900):
            rep = r.reply()
            assert rep[-1].startswith("250"), (i, rep)
    finally:
        r.close()
    p = pop3(srv, ALICE)
    try:
        count, size = p.stat()
        assert count == 300
        uids = [l.split()[1] for l in p.uidl()[1]]
        assert len(set(uids)) == 300
        sizes = [int(l.split()[1]) for l in p.list()[1]]
        assert sum(sizes) == size
        assert b"Subject: n299" in retr(p, 300)
    finally:
        p.quit()


def imap_login(srv, user, source="127.0.0.1"):
    """An IMAP session logged in as user from source; returns (socket
    file, the login's answer lines)."""
    sock = socket.create_connection((HOST, srv.port("imap")), timeout=10, source_address=(source, 0))
    fp = sock.makefile("rwb")
    assert fp.readline().startswith(b"* OK")
    fp.write(b"a LOGIN \"%s\" \"%s\"\r\n" % (user.encode(), PASSWORD.encode()))
    fp.flush()
    lines = []
    while True:
        line = fp.readline().decode()
        lines.append(line)
        if not line or line.startswith("a ") or line.startswith("* BYE"):
            return sock, fp, lines


@t
def imap_sessions_per_user_and_address(f):
    # [limits] max_imap_connections_per_user_ip (default 10, like Dovecot's
    # mail_max_userip_connections), counted after login
    srv = f.std()
    held = []
    try:
        for i in range(10):
            sock, fp, lines = imap_login(srv, ALICE)
            assert lines[-1].startswith("a OK"), (i, lines)
            held.append((sock, fp))
        # not yet logged in: not counted
        idle = socket.create_connection((HOST, srv.port("imap")), timeout=10)
        held.append((idle, None))
        sock, fp, lines = imap_login(srv, ALICE)
        assert lines[-1].startswith("* BYE [LIMIT]"), lines
        assert fp.readline() == b"", "still open after BYE"
        sock.close()
        # another user from the same address, the same user from another
        for user, source in (("bob@example.test", "127.0.0.1"), (ALICE, "127.0.5.1")):
            sock, fp, lines = imap_login(srv, user, source)
            assert lines[-1].startswith("a OK"), (user, source, lines)
            held.append((sock, fp))
        # one logs out: there is room again
        sock, fp = held.pop(0)
        fp.write(b"z LOGOUT\r\n")
        fp.flush()
        while fp.readline():
            pass
        sock.close()
        for _ in range(50):
            sock, fp, lines = imap_login(srv, ALICE)
            if lines[-1].startswith("a OK"):
                held.append((sock, fp))
                break
            sock.close()
            time.sleep(0.1)
        else:
            raise AssertionError("no room after a logout: %r" % lines)
    finally:
        for sock, _ in held:
            sock.close()
    assert "reason=max_imap_connections_per_user_ip" in open(srv.log_path).read()


@t
def imap_sessions_per_user_and_address_configurable(f):
    srv = f.std(extra="max_imap_connections_per_user_ip = 2\n")
    held = []
    try:
        for _ in range(2):
            sock, fp, lines = imap_login(srv, ALICE)
            assert lines[-1].startswith("a OK"), lines
            held.append(sock)
        sock, fp, lines = imap_login(srv, ALICE)
        held.append(sock)
        assert lines[-1].startswith("* BYE [LIMIT]"), lines
    finally:
        for sock in held:
            sock.close()
    srv = f.std(extra="max_imap_connections_per_user_ip = 0\n")   # 0: no limit
    held = []
    try:
        for _ in range(12):
            sock, fp, lines = imap_login(srv, ALICE)
            assert lines[-1].startswith("a OK"), lines
            held.append(sock)
    finally:
        for sock in held:
            sock.close()


suite.run(setup, teardown_all)
