"""End-to-end tests of POP3 (RFC 1939, 2449, 2595, 5034): capabilities,
logins, the transaction commands, leave-on-server UIDLs, deletion
semantics, a newer login taking over a stale session, per-user switches,
bounds and restart."""

import base64
import imaplib
import os
import poplib
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import PASSWORD, Raw, Suite  # noqa: E402
from mailcheck import (  # noqa: E402
    HOST, assert_delivered_exact, case, curl, deliver, expect_pop_error, fetch_all, message, pop3,
    pop3_count, pop3_multiline, raw_pop3, retr, setup, teardown_all, uidls)

suite = Suite()
t = case(suite)

ALICE = "alice@example.test"


def b64(s):
    return base64.b64encode(s.encode()).decode()


def fill(srv, user=ALICE, n=3):
    """Delivers n messages to user; returns them in order."""
    msgs = []
    for i in range(n):
        m = message(subject="message %d" % (i + 1), to=user, body="body of message %d\r\nline two\r\n" % (i + 1))
        assert deliver(srv, user, m) == {}
        msgs.append(m)
    return msgs


def login_retry(srv, user=ALICE, password=PASSWORD, tries=50):
    """Logs in, retrying while the previous session's lock is still held
    (a dropped connection is noticed by the server a moment later)."""
    for i in range(tries):
        p = pop3(srv)
        try:
            p.user(user)
            p.pass_(password)
            return p
        except poplib.error_proto as e:
            p.close()
            if b"IN-USE" not in e.args[0] or i == tries - 1:
                raise
            time.sleep(0.1)


@t
def capabilities(f):
    srv = f.std()
    p = pop3(srv)
    try:
        caps = p.capa()
        for c in ("TOP", "UIDL", "USER", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "STLS", "IMPLEMENTATION"):
            assert c in caps, "%s missing from CAPA: %r" % (c, caps)
        assert "PLAIN" in [m.upper() for m in caps.get("SASL", [])], caps
        assert caps.get("EXPIRE") == ["NEVER"], caps
        assert caps.get("LOGIN-DELAY") == ["0"], caps
    finally:
        p.quit()
    # Inside TLS, STLS is no longer offered.
    p = pop3(srv, tls="implicit")
    try:
        caps = p.capa()
        assert "STLS" not in caps, caps
        assert "USER" in caps, caps
    finally:
        p.quit()


@t
def greeting(f):
    srv = f.std()
    r = Raw(srv.port("pop3"))
    try:
        g = r.line()
        assert g.startswith("+OK "), g
        r.send("QUIT\r\n")
        assert r.line().startswith("+OK")
        assert r.closed()
    finally:
        r.close()


@t
def user_pass_and_transaction_commands(f):
    srv = f.std()
    msgs = fill(srv)
    p = pop3(srv, ALICE)
    try:
        count, total = p.stat()
        assert count == 3, count
        resp, listing, _ = p.list()
        sizes = {int(a): int(b) for a, b in (l.split() for l in listing)}
        assert sorted(sizes) == [1, 2, 3], listing
        assert total == sum(sizes.values()), (total, sizes)
        resp = p.list(2)
        assert resp.split()[:2] == [b"+OK", b"2"] and int(resp.split()[2]) == sizes[2], resp
        resp, ulist, _ = p.uidl()
        ids = [l.split()[1] for l in ulist]
        assert len(set(ids)) == 3, ulist
        for uid in ids:
            assert 1 <= len(uid) <= 70 and all(0x21 <= c <= 0x7e for c in uid), uid
        resp = p.uidl(3)
        assert resp.split()[1:] == [b"3", ids[2]], resp
        for i in (1, 2, 3):
            got = retr(p, i)
            assert_delivered_exact(got, msgs[i - 1])
            assert len(got) == sizes[i], "LIST size %d, message %d bytes" % (sizes[i], len(got))
        # TOP n 0: the header and the blank line only.
        resp, lines, _ = p.top(1, 0)
        assert resp.startswith(b"+OK")
        assert lines[-1] == b"" and b"" not in lines[:-1], lines
        assert b"Subject: message 1" in lines
        resp, lines, _ = p.top(1, 1)
        assert lines[-2:] == [b"", b"body of message 1"], lines
        resp, lines, _ = p.top(1, 100)
        assert b"\r\n".join(lines) + b"\r\n" == retr(p, 1)
        assert p.noop().startswith(b"+OK")
        # Errors for messages that are not there.
        expect_pop_error(lambda: p.retr(4))
        expect_pop_error(lambda: p.list(0))
        expect_pop_error(lambda: p.top(9, 1))
        expect_pop_error(lambda: p.uidl(99))
        expect_pop_error(lambda: p._shortcmd("RETR x"))
        expect_pop_error(lambda: p._shortcmd("RETR 1 2"))
        expect_pop_error(lambda: p._shortcmd("TOP 1"))
        expect_pop_error(lambda: p._shortcmd("TOP 1 -1"))
        expect_pop_error(lambda: p._shortcmd("RETR 99999999999999999999"))
        expect_pop_error(lambda: p._shortcmd("DELE -1"))
    finally:
        p.quit()


@t
def commands_in_wrong_state(f):
    srv = f.std()
    p = pop3(srv)
    try:
        expect_pop_error(p.stat)
        expect_pop_error(lambda: p.retr(1))
        expect_pop_error(lambda: p._shortcmd("PASS " + PASSWORD))  # PASS without USER
        p.user(ALICE)
        p.pass_(PASSWORD)
        expect_pop_error(lambda: p.user(ALICE))  # USER after login
        expect_pop_error(lambda: p._shortcmd("STLS"))  # STLS after login
    finally:
        p.quit()


@t
def empty_mailbox(f):
    srv = f.std()
    p = pop3(srv, "bob@example.test")
    try:
        assert p.stat() == (0, 0)
        assert p.list()[1] == []
        assert p.uidl()[1] == []
    finally:
        p.quit()


@t
def auth_plain(f):
    srv = f.std()
    fill(srv, n=1)
    r = raw_pop3(srv)
    try:
        r.send("AUTH PLAIN %s\r\n" % b64("\0%s\0%s" % (ALICE, PASSWORD)))
        rep = r.line()
        assert rep.startswith("+OK"), rep
        r.send("STAT\r\n")
        assert r.line().startswith("+OK 1 ")
        r.send("QUIT\r\n")
        assert r.line().startswith("+OK")
    finally:
        r.close()
    # Without an initial response: "+ " then the response.
    r = raw_pop3(srv)
    try:
        r.send("AUTH PLAIN\r\n")
        rep = r.line()
        assert rep.startswith("+"), rep
        assert not rep.startswith("+OK"), rep
        r.send(b64("\0%s\0%s" % (ALICE, PASSWORD)) + "\r\n")
        rep = r.line()
        assert rep.startswith("+OK"), rep
    finally:
        r.close()
    # With an authorization identity equal to the user.
    r = raw_pop3(srv)
    try:
        r.send("AUTH PLAIN %s\r\n" % b64("%s\0%s\0%s" % (ALICE, ALICE, PASSWORD)))
        rep = r.line()
        assert rep.startswith("+OK"), rep
    finally:
        r.close()
    # Bad AUTH PLAIN requests.
    r = raw_pop3(srv)
    try:
        r.send("AUTH PLAIN\r\n")
        assert r.line().startswith("+")
        r.send("*\r\n")
        rep = r.line()
        assert rep.startswith("-ERR"), "cancelled AUTH: %r" % rep
        r.send("AUTH PLAIN %s\r\n" % b64("\0bob@example.test\0" + "wrong"))
        rep = r.line()
        assert rep.startswith("-ERR [AUTH]"), rep
        r.send("AUTH FOO\r\n")
        assert r.line().startswith("-ERR")
        r.send("AUTH PLAIN %s\r\n" % b64("%s\0%s\0%s" % ("bob@example.test", ALICE, PASSWORD)))
        rep = r.line()
        assert rep.startswith("-ERR"), "authorized as someone else: %r" % rep
        r.send("CAPA\r\n")
        assert r.line().startswith("+OK")
        pop3_multiline(r)
    finally:
        r.close()
    # poplib's USER/PASS too.
    p = pop3(srv, ALICE)
    assert p.stat()[0] == 1
    p.quit()


@t
def wrong_password(f):
    srv = f.std()
    p = pop3(srv)
    try:
        p.user(ALICE)
        e1 = expect_pop_error(lambda: p.pass_("not the password"), "[AUTH]")
        p.user("nobody@example.test")
        e2 = expect_pop_error(lambda: p.pass_("not the password"), "[AUTH]")
        assert e1 == e2, (e1, e2)
        p.user(ALICE)
        p.pass_(PASSWORD)
        assert p.stat() == (0, 0)
    finally:
        p.quit()


@t
def plaintext_never_refused_before_tls(f):
    srv = f.std(allow_plaintext="never")
    fill(srv, n=1)
    p = pop3(srv)
    try:
        try:
            p.user(ALICE)
            text = expect_pop_error(lambda: p.pass_(PASSWORD))
        except poplib.error_proto as e:
            text = e.args[0].decode()
        assert text.startswith("-ERR") and "TLS" in text.upper(), text
        text = expect_pop_error(lambda: p._shortcmd("AUTH PLAIN " + b64("\0%s\0%s" % (ALICE, PASSWORD))))
        assert "TLS" in text.upper(), text
    finally:
        p.quit()
    # STLS, then it works.
    p = pop3(srv, tls="stls")
    try:
        p.user(ALICE)
        p.pass_(PASSWORD)
        assert p.stat()[0] == 1
    finally:
        p.quit()
    # And on 995.
    p = pop3(srv, ALICE, tls="implicit")
    assert p.stat()[0] == 1
    p.quit()


@t
def stls_then_login(f):
    srv = f.std()
    msgs = fill(srv, n=1)
    p = pop3(srv, tls="stls")
    try:
        caps = p.capa()
        assert "STLS" not in caps, caps
        p.user(ALICE)
        p.pass_(PASSWORD)
        assert_delivered_exact(retr(p, 1), msgs[0])
    finally:
        p.quit()


@t
def retr_byte_exact_with_dots(f):
    srv = f.std()
    body = (b".leading dot\r\n..two leading dots\r\n.\r\n. \r\n...\r\nend.\r\n.x\r\n"
            b"\xc3\xa9t\xc3\xa9 8bit \xff\r\n\r\n\r\nlast line\r\n")
    msg = message(subject="dots", body=body)
    assert deliver(srv, ALICE, msg, options=["BODY=8BITMIME"]) == {}
    p = pop3(srv, ALICE)
    try:
        got = retr(p, 1)
        size = int(p.list(1).split()[2])
    finally:
        p.quit()
    assert_delivered_exact(got, msg)
    assert size == len(got), (size, len(got))
    # On the wire, the dot lines are stuffed.
    r = raw_pop3(srv)
    try:
        r.send("USER %s\r\n" % ALICE)
        r.line()
        r.send("PASS %s\r\n" % PASSWORD)
        r.line()
        r.send("RETR 1\r\n")
        assert r.line().startswith("+OK")
        raw = []
        while True:
            l = r.line()
            if l == ".":
                break
            raw.append(l)
    finally:
        r.close()
    for stuffed in ("..leading dot", "...two leading dots", "..", ".. ", "....", "..x", "end."):
        assert stuffed in raw, (stuffed, raw)
    assert "." not in raw and ". " not in raw and "..." not in raw, raw


@t
def message_without_final_newline(f):
    srv = f.std()
    # BDAT lets a message end without CRLF; RETR must still end with CRLF.CRLF.
    from mailcheck import raw_smtp
    msg = message(subject="no final newline", body="no newline at the end")
    r = raw_smtp(srv)
    try:
        r.send(b"MAIL FROM:<s@example.org>\r\nRCPT TO:<alice@example.test>\r\nBDAT %d LAST\r\n" % len(msg) + msg)
        codes = [r.reply()[-1][:3] for _ in range(3)]
        assert codes == ["250"] * 3, codes
    finally:
        r.close()
    p = pop3(srv, ALICE)
    try:
        got = retr(p, 1)
        assert got.endswith(b"no newline at the end\r\n"), got[-60:]
    finally:
        p.quit()


@t
def uidl_stable_across_sessions_and_restart(f):
    srv = f.std()
    msgs = fill(srv, n=3)
    first = uidls(srv, ALICE)
    assert len(first) == 3
    second = uidls(srv, ALICE)
    assert first == second, (first, second)
    status = srv.stop()
    assert status == 0, "SIGTERM exit status %s: %s" % (status, srv.tail())
    srv.start()
    third = uidls(srv, ALICE)
    assert third == first, (first, third)
    got = fetch_all(srv, ALICE)
    for g, m in zip(got, msgs):
        assert_delivered_exact(g, m)
    # New mail after the restart gets a new, distinct UIDL.
    fill(srv, n=1)
    fourth = uidls(srv, ALICE)
    assert fourth[:3] == first and fourth[3][1] not in [u for _, u in first], fourth


@t
def dele_then_quit_removes(f):
    srv = f.std()
    msgs = fill(srv, n=3)
    before = dict(uidls(srv, ALICE))
    p = pop3(srv, ALICE)
    try:
        assert p.dele(2).startswith(b"+OK")
        # Within the session: 2 is gone from STAT/LIST/UIDL and cannot be used.
        assert p.stat()[0] == 2
        assert [l.split()[0] for l in p.list()[1]] == [b"1", b"3"]
        assert [l.split()[0] for l in p.uidl()[1]] == [b"1", b"3"]
        expect_pop_error(lambda: p.retr(2))
        expect_pop_error(lambda: p.dele(2))
        expect_pop_error(lambda: p.list(2))
        resp = p.quit()
        assert resp.startswith(b"+OK"), resp
    except Exception:
        p.close()
        raise
    got = fetch_all(srv, ALICE)
    assert len(got) == 2
    assert_delivered_exact(got[0], msgs[0])
    assert_delivered_exact(got[1], msgs[2])
    after = uidls(srv, ALICE)
    assert [u for _, u in after] == [before[b"1"], before[b"3"]], (before, after)


@t
def dele_then_rset_keeps(f):
    srv = f.std()
    fill(srv, n=2)
    before = uidls(srv, ALICE)
    p = pop3(srv, ALICE)
    try:
        p.dele(1)
        p.dele(2)
        assert p.stat()[0] == 0
        assert p.rset().startswith(b"+OK")
        assert p.stat()[0] == 2
    finally:
        p.quit()
    assert uidls(srv, ALICE) == before


@t
def dele_then_drop_keeps(f):
    srv = f.std()
    fill(srv, n=2)
    before = uidls(srv, ALICE)
    p = pop3(srv, ALICE)
    p.dele(1)
    p.dele(2)
    p.sock.shutdown(socket.SHUT_RDWR)
    p.close()
    p = login_retry(srv)
    try:
        assert p.stat()[0] == 2
    finally:
        p.quit()
    assert uidls(srv, ALICE) == before


@t
def dele_all_then_new_mail(f):
    srv = f.std()
    fill(srv, n=2)
    p = pop3(srv, ALICE)
    p.dele(1)
    p.dele(2)
    p.quit()
    assert pop3_count(srv, ALICE) == 0
    m = fill(srv, n=1)[0]
    got = fetch_all(srv, ALICE)
    assert len(got) == 1
    assert_delivered_exact(got[0], m)


@t
def snapshot_during_session(f):
    srv = f.std()
    fill(srv, n=1)
    p = pop3(srv, ALICE)
    try:
        assert p.stat()[0] == 1
        fill(srv, n=1)  # arrives while the session is open
        assert p.stat()[0] == 1, "the maildrop changed under an open session"
        p.dele(1)
    finally:
        p.quit()
    assert pop3_count(srv, ALICE) == 1


def raw_login(srv, user=ALICE):
    r = raw_pop3(srv)
    r.send("USER %s\r\nPASS %s\r\n" % (user, PASSWORD))
    assert r.line().startswith("+OK")
    l = r.line()
    assert l == "+OK Logged in.", l
    return r


@t
def stale_session_taken_over(f):
    """A phone that lost its network leaves its session open with no FIN
    or RST.  A new login of the user takes over at once (docs/SECURITY.md):
    the old session is told and closed, its DELEs are discarded, and its
    late QUIT deletes nothing the new session must still see."""
    srv = f.std()
    msgs = fill(srv, n=3)
    before = uidls(srv, ALICE)
    a = raw_login(srv)
    a.send("DELE 1\r\n")
    assert a.line().startswith("+OK")
    # ... and A goes silent: no QUIT, no close.
    b = pop3(srv, ALICE)
    try:
        assert b.stat()[0] == 3, "A's DELE must not count for B"
        assert [tuple(l.split()) for l in b.uidl()[1]] == before
        l = a.line()
        assert l.startswith("-ERR [IN-USE] A newer POP3 session of this mailbox has started"), l
        assert a.closed(timeout=30), "the older session was not closed"
        # A's QUIT comes late, to a closed session.
        try:
            a.send("QUIT\r\n")
        except OSError:
            pass
        a.close()
        # B sees and reads every message, the one A deleted included.
        for i, m in enumerate(msgs):
            assert_delivered_exact(retr(b, i + 1), m)
        # Another user is not affected.
        pop3(srv, "bob@example.test").quit()
        assert b.dele(2).startswith(b"+OK")
        resp = b.quit()
        assert resp.startswith(b"+OK"), resp
    except Exception:
        b.close()
        raise
    # Only B's deletion happened.
    assert uidls(srv, ALICE) == [(b"1", before[0][1]), (b"2", before[2][1])], (before, uidls(srv, ALICE))


@t
def quit_racing_a_new_login(f):
    """A's QUIT and B's login race.  Either A's UPDATE ran first (its
    message is gone before B lists) or B took over first (A deletes
    nothing): B can read every message it listed, and the store agrees
    with what A was told."""
    srv = f.std()
    for round_ in range(5):
        fill(srv, n=2)
        n0 = pop3_count(srv, ALICE)
        a = raw_login(srv)
        a.send("DELE 1\r\nQUIT\r\n")
        b = login_retry(srv)     # [IN-USE] only while A's expunge runs
        try:
            n = b.stat()[0]
            for i in range(1, n + 1):
                retr(b, i)
            b.quit()
        except Exception:
            b.close()
            raise
        # What A was told: DELE's +OK and QUIT's answer, or (taken over
        # before it got there) the -ERR [IN-USE] that ends it.
        answers = []
        try:
            while len(answers) < 2:
                answers.append(a.line())
                if answers[-1].startswith("-ERR"):
                    break
        except (EOFError, OSError):
            pass
        a.close()
        if answers == ["+OK Message 1 deleted.", "+OK Logging out, 1 message deleted."]:
            assert n == n0 - 1 and pop3_count(srv, ALICE) == n0 - 1, (round_, n0, n)
        else:
            assert answers and answers[-1].startswith("-ERR [IN-USE]"), answers
            assert n == n0 and pop3_count(srv, ALICE) == n0, (round_, n0, n, answers)


@t
def retr_of_message_expunged_under_the_session(f):
    """The snapshot is the login's (RFC 1939): a message expunged over IMAP
    meanwhile is answered with -ERR, and the session goes on."""
    srv = f.std()
    msgs = fill(srv, n=2)
    p = pop3(srv, ALICE)
    try:
        assert p.stat()[0] == 2
        m = imaplib.IMAP4(HOST, srv.port("imap"))
        m.login(ALICE, PASSWORD)
        m.select("INBOX")
        m.store("1", "+FLAGS", "(\\Deleted)")
        m.expunge()
        m.logout()
        expect_pop_error(lambda: p.retr(1), "deleted by another session")
        expect_pop_error(lambda: p.top(1, 0), "deleted by another session")
        assert_delivered_exact(retr(p, 2), msgs[1])
        assert p.noop().startswith(b"+OK")
        assert p.dele(1).startswith(b"+OK")
        assert p.quit().startswith(b"+OK")
    except Exception:
        p.close()
        raise
    got = fetch_all(srv, ALICE)
    assert len(got) == 1
    assert_delivered_exact(got[0], msgs[1])


@t
def pop3_switch_off(f):
    srv = f.std()
    srv.cli("user", "set", ALICE, "--pop3", "off")
    p = pop3(srv)
    try:
        p.user(ALICE)
        expect_pop_error(lambda: p.pass_(PASSWORD), "[AUTH]", "disabled")
    finally:
        p.close()
    srv.cli("user", "set", ALICE, "--pop3", "on")
    p = pop3(srv, ALICE)
    p.quit()


@t
def admin_refused(f):
    srv = f.std()
    srv.add_user("root@example.test", role="admin")
    p = pop3(srv)
    try:
        p.user("root@example.test")
        expect_pop_error(lambda: p.pass_(PASSWORD), "[AUTH]")
    finally:
        p.close()
    r = raw_pop3(srv, "pop3s", tls=True)
    try:
        r.send("AUTH PLAIN %s\r\n" % b64("\0root@example.test\0" + PASSWORD))
        rep = r.line()
        assert rep.startswith("-ERR [AUTH]"), rep
    finally:
        r.close()


@t
def disabled_account_refused(f):
    srv = f.std()
    srv.cli("user", "set", ALICE, "--disabled")
    p = pop3(srv)
    try:
        p.user(ALICE)
        expect_pop_error(lambda: p.pass_(PASSWORD), "[AUTH]")
    finally:
        p.close()


@t
def overlong_line(f):
    srv = f.std()
    r = raw_pop3(srv)
    try:
        r.send("USER " + "a" * 300 + "\r\n")
        rep = r.line()
        assert rep.startswith("-ERR"), rep
        r.send("NOOP " + "b" * 1000 + "\r\nCAPA\r\n")
        rep = r.line()
        assert rep.startswith("-ERR"), rep
        rep = r.line()
        assert rep.startswith("+OK"), "out of sync after an overlong line: %r" % rep
        pop3_multiline(r)
        # At the limit (255 with CRLF) a line is still a command.
        r.send("USER " + "c" * (255 - 7) + "\r\n")
        rep = r.line()
        r.send("USER %s\r\nPASS %s\r\nSTAT\r\n" % (ALICE, PASSWORD))
        for want in ("+OK", "+OK", "+OK 0 0"):
            rep = r.line()
            assert rep.startswith(want), (want, rep)
    finally:
        r.close()


@t
def unknown_and_bad_commands(f):
    srv = f.std()
    r = raw_pop3(srv)
    try:
        for bad in ("FROB", "", "USER", "STAT extra", "\x00NOOP", "RETR"):
            r.send(bad + "\r\n")
            rep = r.line()
            assert rep.startswith("-ERR"), (bad, rep)
        r.send("capa\r\n")  # commands are case-insensitive
        assert r.line().startswith("+OK")
        pop3_multiline(r)
    finally:
        r.close()


@t
def too_many_errors(f):
    srv = f.std()
    r = raw_pop3(srv)
    try:
        closed = False
        for i in range(40):
            try:
                r.send("FROB\r\n")
                rep = r.line()
            except (EOFError, ConnectionResetError, BrokenPipeError):
                closed = True
                break
            assert rep.startswith("-ERR"), rep
        assert closed or r.closed(2), "still connected after 40 bad commands"
    finally:
        r.close()


@t
def pipelined_commands(f):
    srv = f.std()
    fill(srv, n=2)
    r = raw_pop3(srv)
    try:
        r.send("USER %s\r\nPASS %s\r\nSTAT\r\nLIST\r\nUIDL\r\nNOOP\r\nRETR 2\r\nQUIT\r\n" % (ALICE, PASSWORD))
        assert r.line().startswith("+OK")
        assert r.line().startswith("+OK")
        stat = r.line()
        assert stat.startswith("+OK 2 "), stat
        assert r.line().startswith("+OK")
        listing = pop3_multiline(r)
        assert [l.split()[0] for l in listing] == ["1", "2"], listing
        assert r.line().startswith("+OK")
        ulist = pop3_multiline(r)
        assert [l.split()[0] for l in ulist] == ["1", "2"], ulist
        assert r.line().startswith("+OK")
        assert r.line().startswith("+OK")
        body = pop3_multiline(r)
        assert "Subject: message 2" in body, body
        assert r.line().startswith("+OK")
        assert r.closed()
    finally:
        r.close()


@t
def curl_pop3s_retrieves(f):
    srv = f.std()
    msgs = fill(srv, n=2)
    url = "pop3s://%s:%d" % (HOST, srv.port("pop3s"))
    r = curl("--user", "%s:%s" % (ALICE, PASSWORD), url + "/2")
    assert r.returncode == 0, r.stderr
    assert_delivered_exact(r.stdout, msgs[1])
    r = curl("--user", "%s:%s" % (ALICE, PASSWORD), url + "/")
    assert r.returncode == 0, r.stderr
    assert [l.split()[0] for l in r.stdout.splitlines()] == [b"1", b"2"], r.stdout
    r = curl("--user", "%s:%s" % (ALICE, "wrong"), url + "/1")
    assert r.returncode != 0
    # STLS with curl on 110.
    r = curl("--ssl-reqd", "--user", "%s:%s" % (ALICE, PASSWORD), "pop3://%s:%d/1" % (HOST, srv.port("pop3")))
    assert r.returncode == 0, r.stderr
    assert_delivered_exact(r.stdout, msgs[0])


@t
def restart_keeps_everything(f):
    srv = f.std()
    a = fill(srv, ALICE, 2)
    c = fill(srv, "carol@example.org", 1)
    ua, uc = uidls(srv, ALICE), uidls(srv, "carol@example.org")
    for _ in range(2):
        status = srv.stop()
        assert status == 0, "SIGTERM exit status %s: %s" % (status, srv.tail())
        srv.start()
        assert uidls(srv, ALICE) == ua
        assert uidls(srv, "carol@example.org") == uc
    for g, m in zip(fetch_all(srv, ALICE), a):
        assert_delivered_exact(g, m)
    assert_delivered_exact(fetch_all(srv, "carol@example.org")[0], c[0])


suite.run(setup, teardown_all)
