"""End-to-end tests of IMAP bounds and policy (issue 3, "Security and
policy"): APPEND at and past max_message_size (RFC 7889 TOOBIG, a refused
synchronising literal is never sent), a non-synchronising literal past the
limit (RFC 7888: answered, the session stays in sync), overlong lines, deep
nesting, pipelining, too many errors, limits before login (commands, bytes,
time), the per-user imap switch, administrators, one answer for unknown
users and wrong passwords, and the brute-force block reaching IMAP."""

import os
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import PASSWORD, Suite  # noqa: E402
from imapcheck import (  # noqa: E402
    ALICE, Conn, Lit, b64, fetches, select, shared_suite, status_of, untagged_of)
from mailcheck import pop3  # noqa: E402

LIMIT = 64 * 1024
suite = Suite()
t, run = shared_suite(suite, max_message_size="64K")


def msg_of_size(n, subject="sized"):
    head = b"From: <a@example.org>\r\nSubject: %s\r\n\r\n" % subject.encode()
    body = (b"0123456789abcdef" * ((n // 16) + 1))[:n - len(head) - 2] + b"\r\n"
    m = head + body
    assert len(m) == n
    return m


def limits(**kw):
    return "[limits]\n" + "".join("%s = %s\n" % kv for kv in kw.items())


@t
def append_at_and_past_the_limit(f):
    user = f.user()
    c = f.conn(user)
    try:
        caps = c.ok("CAPABILITY")[0].decode().split()
        assert "APPENDLIMIT=%d" % LIMIT in caps, caps
        at = msg_of_size(LIMIT)
        u, tagged, sent = c.cmd_literals(["APPEND INBOX ", Lit(at)], tag="at")
        assert sent and tagged.startswith("at OK"), tagged
        # One byte more: NO [TOOBIG] instead of "+", and the literal is never sent.
        u, tagged, sent = c.cmd_literals(["APPEND INBOX ", Lit(msg_of_size(LIMIT + 1))], tag="big")
        assert not sent, "the server asked for a literal past APPENDLIMIT"
        assert tagged.startswith("big NO [TOOBIG]"), tagged
        c.ok("NOOP")
        # Far past it (a size that does not fit in 32 bits).
        c.send("huge APPEND INBOX {99999999999}\r\n")
        u, tagged = c.read_until_tagged("huge")
        assert tagged == "huge NO [TOOBIG] Message larger than the limit of %d bytes" % LIMIT, tagged
        c.ok("NOOP")
        # MULTIAPPEND whose second message is too big: nothing is appended.
        u, tagged, sent = c.cmd_literals(["APPEND INBOX ", Lit(msg_of_size(100)), " ",
                                          Lit(msg_of_size(LIMIT + 10))], tag="multi")
        assert not sent and tagged.startswith("multi NO [TOOBIG]"), tagged
        c.ok("NOOP")
        st = status_of(c.ok("STATUS INBOX (MESSAGES)"))["INBOX"]
        assert st["MESSAGES"] == 1, st
        select(c)
        fs = fetches(c.ok("FETCH 1 (BODY.PEEK[] RFC822.SIZE)"))
        assert fs[1]["BODY[]"] == at and int(fs[1]["RFC822.SIZE"]) == LIMIT
    finally:
        c.logout()


@t
def non_synchronising_literal_past_the_limit(f):
    user = f.user()
    c = f.conn(user)
    try:
        # RFC 7888 4: the server reads and drops the literal, answers, and
        # the next command is understood.  The answer is APPEND's for a
        # message past APPENDLIMIT (RFC 7889, TOOBIG of RFC 4469): NO [TOOBIG],
        # whichever form the literal had.
        big = msg_of_size(LIMIT + 1)
        c.send(b"nb APPEND INBOX {%d+}\r\n" % len(big) + big + b"\r\nnext NOOP\r\n")
        u, tagged = c.read_until_tagged("nb")
        assert tagged == "nb NO [TOOBIG] Message larger than the limit of %d bytes" % LIMIT, tagged
        u, tagged = c.read_until_tagged("next")
        assert tagged.startswith("next OK"), tagged
        # A literal that looks like commands is still only data.
        trap = b"x NOOP\r\ny LOGOUT\r\n" + b"z" * (LIMIT + 1)
        c.send(b"nb2 APPEND INBOX {%d+}\r\n" % len(trap) + trap + b"\r\nnext2 NOOP\r\n")
        u, tagged = c.read_until_tagged("nb2")
        assert tagged.startswith("nb2 NO [TOOBIG] "), (u, tagged)
        u, tagged = c.read_until_tagged("next2")
        assert tagged.startswith("next2 OK"), tagged
        # Within the limit, LITERAL+ works for APPEND.
        ok = msg_of_size(LIMIT)
        c.send(b"np APPEND INBOX {%d+}\r\n" % len(ok) + ok + b"\r\n")
        u, tagged = c.read_until_tagged("np")
        assert tagged.startswith("np OK [APPENDUID"), tagged
        # Literals in other commands have a smaller bound (64 KiB): a
        # synchronising one is refused before it is sent ...
        c.send("s1 SEARCH TEXT {70000}\r\n")
        r = c.response()
        assert r.startswith(b"s1 BAD") or r.startswith(b"s1 NO"), r
        c.ok("NOOP")
        # ... a non-synchronising one is read and dropped.
        c.send(b"s2 SEARCH TEXT {70000+}\r\n" + b"q" * 70000 + b"\r\ns3 NOOP\r\n")
        u, tagged = c.read_until_tagged("s2")
        assert tagged.startswith("s2 BAD") or tagged.startswith("s2 NO"), tagged
        u, tagged = c.read_until_tagged("s3")
        assert tagged.startswith("s3 OK"), tagged
        st = status_of(c.ok("STATUS INBOX (MESSAGES)"))["INBOX"]
        assert st["MESSAGES"] == 1, st
    finally:
        c.logout()


@t
def overlong_line_and_deep_nesting(f):
    user = f.user()
    c = f.conn(user)
    try:
        select(c)
        c.ok("APPEND INBOX {5+}\r\nhello")
        # RFC 7162 4: lines of 8192 octets are fine.
        long_set = ",".join(str(i) for i in range(1, 2100))
        assert len(long_set) > 8000
        u = c.ok("UID FETCH %s (FLAGS)" % long_set)
        assert len(untagged_of(u, "FETCH")) == 1, u
        # Past the line bound (64 KiB): BAD, and the next command works.
        c.send("long NOOP " + "x" * 70000 + "\r\nafter NOOP\r\n")
        u, tagged = c.read_until_tagged("long")
        assert tagged.startswith("long BAD"), tagged
        u, tagged = c.read_until_tagged("after")
        assert tagged.startswith("after OK"), tagged
        # A long line without a newline yet, then the rest.
        c.send("long2 NOOP " + "y" * 40000)
        c.send("y" * 40000 + "\r\nafter2 NOOP\r\n")
        u, tagged = c.read_until_tagged("long2")
        assert tagged.startswith("long2 BAD"), tagged
        u, tagged = c.read_until_tagged("after2")
        assert tagged.startswith("after2 OK"), tagged
        # Nesting: a handful of levels is a search program; 40 is refused.
        u = c.ok("SEARCH " + "(" * 8 + "ALL" + ")" * 8)
        assert untagged_of(u, "SEARCH") == [b"* SEARCH 1"], u
        u, tagged = c.cmd("SEARCH " + "(" * 40 + "ALL" + ")" * 40, tag="deep")
        assert tagged.startswith("deep BAD"), tagged
        u, tagged = c.cmd("SEARCH " + "NOT " * 2000 + "ALL", tag="nots")
        assert tagged.startswith("nots BAD") or tagged.startswith("nots NO") or tagged.startswith("nots OK"), tagged
        u, tagged = c.cmd("FETCH 1 " + "(" * 40 + "FLAGS" + ")" * 40, tag="deepf")
        assert tagged.startswith("deepf BAD"), tagged
        c.ok("NOOP")
        # An unbalanced list and a bare ")".
        for bad in ("SEARCH (ALL", "SEARCH ALL)", "FETCH 1 (FLAGS", 'LIST "" ("INBOX"'):
            u, tagged = c.cmd(bad, tag="unb")
            assert tagged.startswith("unb BAD"), (bad, tagged)
        c.ok("NOOP")
    finally:
        c.logout()


@t
def pipelined_commands_answered_in_order(f):
    user = f.user()
    c = f.conn(user)
    try:
        c.ok("APPEND INBOX {5+}\r\nhello")
        select(c)
        batch = "".join("p%d %s\r\n" % (i, ("NOOP", "FETCH 1 (FLAGS)", "STATUS Drafts (MESSAGES)",
                                           "SEARCH ALL")[i % 4]) for i in range(400))
        c.send(batch)
        for i in range(400):
            u, tagged = c.read_until_tagged("p%d" % i)
            assert tagged.startswith("p%d OK" % i), tagged
        # Big FETCH output with pipelined commands behind it.
        big = b"Subject: big\r\n\r\n" + b"z" * 60000 + b"\r\n"
        for _ in range(3):
            c.send(b"ap APPEND INBOX {%d+}\r\n" % len(big) + big + b"\r\n")
            c.read_until_tagged("ap")
        c.send("f1 FETCH 1:* (BODY.PEEK[])\r\nf2 NOOP\r\nf3 FETCH 2 (RFC822.SIZE)\r\n")
        u, tagged = c.read_until_tagged("f1")
        assert tagged.startswith("f1 OK") and len(untagged_of(u, "FETCH")) == 4, tagged
        assert c.read_until_tagged("f2")[1].startswith("f2 OK")
        u, tagged = c.read_until_tagged("f3")
        assert tagged.startswith("f3 OK") and fetches(u)[2]["RFC822.SIZE"] == str(len(big)), (u, tagged)
    finally:
        c.logout()


@t
def too_many_errors(f):
    user = f.user()
    c = f.conn(user)
    try:
        closed = False
        for i in range(40):
            try:
                c.send("e%d FROBNICATE\r\n" % i)
                r = c.response()
            except (EOFError, ConnectionResetError, BrokenPipeError):
                closed = True
                break
            if r.startswith(b"* BYE"):
                closed = c.closed()
                break
            assert r.startswith(b"e%d BAD" % i), r
        assert closed, "still connected after 40 bad commands"
    finally:
        c.close()


@t
def limits_before_login(f):
    srv = f.server(extra=limits(max_commands_before_auth=5, max_bytes_before_auth="1K"))
    c = Conn(srv.port("imap"))
    try:
        for i in range(5):
            c.ok("CAPABILITY")
        c.send("six CAPABILITY\r\n")
        r = c.response()
        assert r == b"* BYE Too many commands before login, closing.", r
        assert c.closed()
    finally:
        c.close()
    # Bytes before login.
    c = Conn(srv.port("imap"))
    try:
        c.send("X" * 2000)
        r = c.response()
        assert r.startswith(b"* BYE") and b"Too much data before login" in r, r
        assert c.closed()
    finally:
        c.close()
    # Logged in, neither applies.
    c = Conn(srv.port("imap")).login(ALICE)
    try:
        for i in range(30):
            c.ok("NOOP")
        c.ok("ID (\"name\" \"%s\")" % ("n" * 1000))
        c.ok("NOOP")
    finally:
        c.logout()


@t
def login_timeout(f):
    srv = f.server(extra=limits(auth_timeout=2))
    idle = Conn(srv.port("imap"))
    logged = Conn(srv.port("imap")).login(ALICE)
    tls = Conn(srv.port("imaps"), tls=True)
    try:
        for c in (idle, tls):
            assert c.closed(8), "not closed after auth_timeout"
            assert b"* BYE No login within 2 seconds" in c.buf, c.buf
        # The logged-in session is not affected.
        logged.ok("NOOP")
    finally:
        for c in (idle, logged, tls):
            c.close()


@t
def per_user_switch_admin_and_failure_answers(f):
    off = f.user(imap="off")
    admin = f.user(prefix="admin", role="admin")
    good = f.user()
    c = f.conn()
    try:
        u, t1 = c.cmd('LOGIN "%s" "%s"' % (off, PASSWORD), tag="a")
        assert t1.startswith("a NO [AUTHORIZATIONFAILED]"), t1
        u, t2 = c.cmd("AUTHENTICATE PLAIN " + b64("\0%s\0%s" % (off, PASSWORD)), tag="a")
        assert t2.startswith("a NO [AUTHORIZATIONFAILED]"), t2
        # The wrong password of a switched-off user is just a failure.
        u, t3 = c.cmd('LOGIN "%s" "wrong"' % off, tag="a")
        assert t3.startswith("a NO [AUTHENTICATIONFAILED]"), t3
        u, t4 = c.cmd('LOGIN "%s" "%s"' % (admin, PASSWORD), tag="a")
        assert t4.startswith("a NO "), t4
        # Unknown user and wrong password: one answer, for LOGIN and AUTHENTICATE.
        u, w1 = c.cmd('LOGIN "%s" "wrong"' % good, tag="a")
        u, w2 = c.cmd('LOGIN "nobody-%s" "wrong"' % good, tag="a")
        u, w3 = c.cmd("AUTHENTICATE PLAIN " + b64("\0%s\0wrong" % good), tag="a")
        u, w4 = c.cmd("AUTHENTICATE PLAIN " + b64("\0nobody-%s\0wrong" % good), tag="a")
        assert w1 == w2 == w3 == w4, (w1, w2, w3, w4)
        assert w1.startswith("a NO [AUTHENTICATIONFAILED]"), w1
        c.login(good)
    finally:
        c.logout()
    # The switch is IMAP's only: POP3 still works for that user.
    p = pop3(f.srv, off)
    p.quit()
    f.srv.cli("user", "set", off, "--imap", "on")
    c = f.conn(off)
    c.logout()


@t
def brute_force_block_reaches_imap(f):
    srv = f.server(extra="[bruteforce]\nblock_after = 4\ndelay_max = 1\n")
    attacker, real = "127.0.1.91", "127.0.1.92"
    answers = []

    def guess(i):
        c = Conn(srv.port("imap"), source=attacker, timeout=30)
        try:
            if not c.greeting.startswith(b"* OK"):
                answers.append(c.greeting.decode())
                return
            u, tagged = c.cmd('LOGIN "%s" "guess-%d"' % (ALICE, i), tag="g")
            answers.append(tagged)
        except (EOFError, OSError) as e:
            answers.append("closed: %s" % e)
        finally:
            c.close()
    threads = [threading.Thread(target=guess, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert all(a.startswith("g NO") or "Too many failed logins" in a or a.startswith("closed")
               for a in answers), answers
    # Now even the right password from that address is refused, at connect.
    c = Conn(srv.port("imap"), source=attacker)
    try:
        g = c.greeting.decode()
        if g.startswith("* OK"):
            u, tagged = c.cmd('LOGIN "%s" "%s"' % (ALICE, PASSWORD), tag="r")
            assert tagged.startswith("r NO [UNAVAILABLE]"), tagged
        else:
            assert g.startswith("* BYE [UNAVAILABLE]") and "Too many failed logins" in g, g
            assert c.closed()
    finally:
        c.close()
    # The block is the server's: POP3 from that address is refused too.
    s = socket.create_connection(("127.0.0.1", srv.port("pop3")), source_address=(attacker, 0), timeout=10)
    try:
        line = s.makefile("rb").readline()
        assert line.startswith(b"-ERR") and b"Too many failed logins" in line, line
    finally:
        s.close()
    # The real user, from elsewhere, logs in.
    c = Conn(srv.port("imap"), source=real).login(ALICE)
    c.logout()
    assert "result=blocked" in srv.tail(500) or "reason=blocked" in srv.tail(500)


run()
