"""End-to-end tests of IMAP sessions that see each other (issue 3): two
sessions of one user see each other's flag changes, expunges and new mail
(RFC 9051 5.2, 7.5.1: no EXPUNGE during FETCH, STORE or SEARCH); IDLE
(RFC 2177) woken by an SMTP delivery and by another session's STORE,
EXPUNGE and APPEND; CONDSTORE (MODSEQ, CHANGEDSINCE, UNCHANGEDSINCE with
MODIFIED) and QRESYNC (SELECT ... QRESYNC after changes made elsewhere gives
VANISHED (EARLIER) and FETCH; VANISHED while selected); POP3 and IMAP on one
store (DELE+QUIT is an EXPUNGE for IMAP, IMAP flags keep POP3 UIDLs)."""

import os
import re
import selectors
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Suite  # noqa: E402
from imapcheck import (  # noqa: E402
    Lit, apply_expunges, expand_set, fetch_items, fetches, search_numbers, select, shared_suite, status_of,
    untagged_of)
from mailcheck import message, pop3, smtp, submission, uidls  # noqa: E402

suite = Suite()
t, run = shared_suite(suite)


def append(c, mailbox, msg, flags=None):
    pieces = ['APPEND "%s" ' % mailbox] + (["(%s) " % flags] if flags else []) + [Lit(msg)]
    untagged, tagged, sent = c.cmd_literals(pieces)
    m = re.search(r"\[APPENDUID (\d+) (\d+)\]", tagged)
    assert sent and m, tagged
    return int(m.group(2))


def fill(c, n, mailbox="INBOX"):
    return [append(c, mailbox, message(subject="sync %d" % i, body="body %d\r\n" % i)) for i in range(n)]


def uids_of(c):
    fs = fetches(c.ok("FETCH 1:* (UID)"))
    return [int(fs[s]["UID"]) for s in sorted(fs)]


def modseq(items):
    return int(items["MODSEQ"][0])


def idle(c, tag="idle"):
    c.send("%s IDLE\r\n" % tag)
    r = c.response()
    assert r.startswith(b"+"), r
    return tag


def idle_wait(c, pred, timeout=5):
    """Reads responses while idling until pred(response) is true (within a
    generous timeout); returns (the responses read, seconds waited)."""
    c.sock.settimeout(timeout)
    got = []
    t0 = time.monotonic()
    try:
        while True:
            r = c.response()
            got.append(r)
            if pred(r):
                return got, time.monotonic() - t0
    except (socket.timeout, TimeoutError):
        raise AssertionError("nothing matching within %ds while idling; got %r" % (timeout, got))
    finally:
        c.sock.settimeout(15)


def deliver_and_wait(srv, user, msg, c, want, timeout=5):
    """Sends msg over SMTP on a raw socket while c idles, watching both
    sockets: returns (the IMAP responses up to want, milliseconds from the
    SMTP 250 after the data to want's arrival; negative if it came first)."""
    smtp_sock = socket.create_connection(("127.0.0.1", srv.port("smtp")), timeout=timeout)
    sf = smtp_sock.makefile("rb")

    def reply():
        line = sf.readline()
        while line[3:4] == b"-":
            line = sf.readline()
        return line
    try:
        assert reply().startswith(b"220")
        for cmd, code in ((b"EHLO client.example.org", b"250"), (b"MAIL FROM:<sender@example.org>", b"250"),
                          (b"RCPT TO:<%s>" % user.encode(), b"250"), (b"DATA", b"354")):
            smtp_sock.sendall(cmd + b"\r\n")
            r = reply()
            assert r.startswith(code), (cmd, r)
        smtp_sock.sendall(msg + b".\r\n")
        t_250 = t_push = None
        got = []
        deadline = time.monotonic() + timeout
        sel = selectors.DefaultSelector()
        sel.register(smtp_sock, selectors.EVENT_READ, "smtp")
        sel.register(c.sock, selectors.EVENT_READ, "imap")
        while t_250 is None or t_push is None:
            left = deadline - time.monotonic()
            assert left > 0, "no 250 or no push within %ds: %r" % (timeout, got)
            # Data already buffered by c counts as arrived now.
            events = [("imap", None)] if (t_push is None and b"\r\n" in c.buf) else \
                [(k.data, None) for k, _ in sel.select(left)]
            for what, _ in events:
                if what == "smtp" and t_250 is None:
                    r = reply()
                    assert r.startswith(b"250"), r
                    t_250 = time.monotonic()
                    sel.unregister(smtp_sock)
                elif what == "imap" and t_push is None:
                    r = c.response()
                    got.append(r)
                    if r == want:
                        t_push = time.monotonic()
                        sel.unregister(c.sock)
        smtp_sock.sendall(b"QUIT\r\n")
        return got, (t_push - t_250) * 1000
    finally:
        sf.close()
        smtp_sock.close()


def idle_done(c, tag):
    c.send("DONE\r\n")
    u, tagged = c.read_until_tagged(tag)
    assert tagged.startswith(tag + " OK"), tagged
    return u


@t
def two_sessions_see_each_other(f):
    user = f.user()
    a, b = f.conn(user), f.conn(user)
    try:
        uids = fill(a, 4)
        select(a)
        select(b)
        # A flag change by B: A's next command reports it (RFC 9051 7.5.1).
        b.ok("STORE 1 +FLAGS (\\Flagged)")
        u = a.ok("NOOP")
        fs = fetches(u)
        assert list(fs) == [1] and "\\Flagged" in fs[1]["FLAGS"], u
        u = a.ok("NOOP")
        assert u == [], "told twice: %r" % u
        # An expunge by B.
        b.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
        b.ok("EXPUNGE")
        view = list(uids)
        u = a.ok("NOOP")
        assert apply_expunges(view, u) == [uids[1]], u
        # New mail over SMTP and an APPEND by B.
        s = smtp(f.srv)
        s.sendmail("sender@example.org", [user], message(subject="new one", to=user))
        s.quit()
        append(b, "INBOX", message(subject="appended by b"))
        u = a.ok("NOOP")
        assert untagged_of(u, "EXISTS") == [b"* 5 EXISTS"], u
        assert len(uids_of(a)) == 5
        # Several changes between two commands of A, in one go.
        view = uids_of(a)
        b.ok("STORE 1:* +FLAGS.SILENT (\\Seen)")
        b.ok("STORE 3 +FLAGS.SILENT (\\Deleted)")
        b.ok("EXPUNGE")
        u = a.ok("NOOP")
        assert len(apply_expunges(view, u)) == 1 and len(view) == 4, u
        fs = fetches(u)
        for seq, items in fs.items():
            assert "\\Seen" in items["FLAGS"], u
        assert uids_of(a) == uids_of(b) == view
        # Changes in another mailbox tell A nothing.
        append(b, "Archive", message(subject="elsewhere"))
        assert a.ok("NOOP") == []
    finally:
        a.logout()
        b.logout()


@t
def no_expunge_during_fetch_store_search(f):
    user = f.user()
    a, b = f.conn(user), f.conn(user)
    try:
        uids = fill(a, 3)
        select(a)
        select(b)
        b.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
        b.ok("EXPUNGE")
        # RFC 9051 7.5.1: not during FETCH, STORE or SEARCH (the sequence
        # numbers of A stay as they were).
        u = a.ok("FETCH 1:3 (UID)")
        assert untagged_of(u, "EXPUNGE") == [], u
        fs = fetches(u)
        assert int(fs[1]["UID"]) == uids[0] and int(fs[3]["UID"]) == uids[2], u
        u = a.ok("STORE 3 +FLAGS (\\Answered)")
        assert untagged_of(u, "EXPUNGE") == [], u
        assert list(fetches(u)) == [3], u
        u = a.ok("SEARCH ANSWERED")
        assert untagged_of(u, "EXPUNGE") == [], u
        assert search_numbers(u) == [3], u
        # Then the next command that allows it.
        view = list(uids)
        u = a.ok("NOOP")
        assert apply_expunges(view, u) == [uids[1]], u
        assert uids_of(a) == [uids[0], uids[2]]
    finally:
        a.logout()
        b.logout()


@t
def idle_woken_by_smtp_delivery(f):
    user = f.user()
    a = f.conn(user)
    try:
        select(a)
        tag = idle(a)
        latencies = []
        for i in range(3):
            got, ms = deliver_and_wait(f.srv, user, message(subject="push %d" % i, to=user), a,
                                       b"* %d EXISTS" % (i + 1))
            # RFC 3501 7.3.2: RECENT follows EXISTS; the one session told
            # gets each new message \Recent (read after the next EXISTS)
            assert got == [b"* %d RECENT" % i] * (i > 0) + [b"* %d EXISTS" % (i + 1)], got
            latencies.append(ms)
        print("# IDLE push latency, SMTP 250 to EXISTS: %s ms" % ", ".join("%.1f" % x for x in latencies), flush=True)
        u = idle_done(a, tag)
        assert u == [b"* 3 RECENT"], u
        fs = fetches(a.ok("FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
        assert [list(fs[s].values())[0] for s in sorted(fs)] == [b"Subject: push %d\r\n\r\n" % i for i in range(3)]
    finally:
        a.logout()


@t
def idle_woken_by_other_session(f):
    user = f.user()
    a, b = f.conn(user), f.conn(user)
    other = f.user()
    try:
        uids = fill(b, 3)
        select(a)
        select(b)
        tag = idle(a)
        # Mail for another user or mailbox wakes nothing: the first thing
        # A hears of is its own mailbox's change.
        s = smtp(f.srv)
        s.sendmail("sender@example.org", [other], message(to=other))
        s.quit()
        append(b, "Archive", message(subject="other mailbox"))
        b.ok("STORE 2 +FLAGS (\\Flagged)")
        got, _ = idle_wait(a, lambda r: b"FETCH" in r)
        assert len(got) == 1, got
        seq, items = fetch_items(got[0])
        assert seq == 2 and "\\Flagged" in items["FLAGS"], got
        b.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        got, _ = idle_wait(a, lambda r: b"FETCH" in r)
        assert fetch_items(got[-1])[0] == 1 and "\\Deleted" in fetch_items(got[-1])[1]["FLAGS"], got
        b.ok("EXPUNGE")
        got, _ = idle_wait(a, lambda r: r.endswith(b"EXPUNGE"))
        assert got == [b"* 1 EXPUNGE"], got
        append(b, "INBOX", message(subject="appended"))
        got, _ = idle_wait(a, lambda r: r.endswith(b"EXISTS"))
        assert got == [b"* 3 EXISTS"], got
        # RFC 3501 7.3.2: RECENT follows; A has 2 and 3 (1 is gone), and the
        # new one too when A was told of it before B's APPEND completed
        assert idle_done(a, tag) in ([b"* 2 RECENT"], [b"* 3 RECENT"])
        assert uids_of(a) == uids_of(b) and uids_of(a)[:2] == uids[1:]
        # IDLE is also allowed without a selected mailbox; DONE ends it.
        a.ok("UNSELECT")
        tag = idle(a, "idle2")
        assert idle_done(a, tag) == []
        # Anything but DONE is a BAD that ends the IDLE.
        tag = idle(a, "idle3")
        a.send("NOOP\r\n")
        u, tagged = a.read_until_tagged(tag)
        assert tagged.startswith(tag + " BAD"), tagged
        a.ok("NOOP")
    finally:
        a.logout()
        b.logout()


@t
def condstore(f):
    user = f.user()
    a, b = f.conn(user), f.conn(user)
    try:
        fill(a, 3)
        u = a.ok("ENABLE CONDSTORE")
        info = select(a)
        m0 = int(info["HIGHESTMODSEQ"])
        fs = fetches(a.ok("FETCH 1:* (MODSEQ)"))
        assert all(0 < modseq(fs[s]) <= m0 for s in fs), (fs, m0)
        select(b)
        b.ok("STORE 2 +FLAGS (\\Flagged)")
        # With CONDSTORE on, unsolicited FETCHes carry MODSEQ (RFC 7162 3.1.4.1? 3.2.4).
        u = a.ok("NOOP")
        fs = fetches(u)
        assert list(fs) == [2] and "\\Flagged" in fs[2]["FLAGS"], u
        m1 = modseq(fs[2])
        assert m1 > m0, (m0, m1)
        # CHANGEDSINCE (RFC 7162 3.1.4.1).
        fs = fetches(a.ok("FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % m0))
        assert list(fs) == [2] and modseq(fs[2]) == m1, fs
        assert fetches(a.ok("FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % m1)) == {}
        # UNCHANGEDSINCE: message 2 changed since m0 and is not stored;
        # MODIFIED names it (RFC 7162 3.1.3).
        u, tagged = a.ok_tagged("STORE 1:3 (UNCHANGEDSINCE %d) +FLAGS (\\Answered)" % m0)
        assert re.search(r"\[MODIFIED 2\]", tagged), tagged
        fs = fetches(u)
        assert sorted(fs) == [1, 3], u
        for s_ in (1, 3):
            assert "\\Answered" in fs[s_]["FLAGS"] and modseq(fs[s_]) > m1, u
        fs2 = fetches(a.ok("FETCH 2 (FLAGS)"))
        assert "\\Answered" not in fs2[2]["FLAGS"], fs2
        # UID STORE: MODIFIED lists UIDs.
        uid2 = int(fetches(a.ok("FETCH 2 (UID)"))[2]["UID"])
        u, tagged = a.ok_tagged("UID STORE %d (UNCHANGEDSINCE %d) FLAGS (\\Seen)" % (uid2, m0))
        assert "[MODIFIED %d]" % uid2 in tagged, tagged
        # With the current MODSEQ the store succeeds.
        u, tagged = a.ok_tagged("UID STORE %d (UNCHANGEDSINCE %d) +FLAGS (\\Seen)" % (uid2, m1))
        assert "MODIFIED" not in tagged, tagged
        fs = fetches(u)
        assert "\\Seen" in fs[2]["FLAGS"] and modseq(fs[2]) > m1, u
        # SEARCH MODSEQ (RFC 7162 3.1.5): the result ends with the highest MODSEQ of the matches.
        u = a.ok("SEARCH MODSEQ %d" % (m1 + 1))
        line = untagged_of(u, "SEARCH")[0].decode()
        mm = re.match(r"\* SEARCH ([\d ]+) \(MODSEQ (\d+)\)$", line)
        assert mm and [int(x) for x in mm.group(1).split()] == [1, 2, 3], line
        st = status_of(a.ok("STATUS INBOX (HIGHESTMODSEQ)"))["INBOX"]
        assert int(mm.group(2)) == st["HIGHESTMODSEQ"], (line, st)
        assert search_numbers(a.ok("SEARCH MODSEQ %d" % (st["HIGHESTMODSEQ"] + 1))) == []
        # B sees A's changes with MODSEQ only once it uses CONDSTORE.
        u = b.ok("NOOP")
        assert fetches(u) and all("MODSEQ" not in x for x in fetches(u).values()), u
        b.ok("FETCH 1 (MODSEQ)")     # RFC 7162 3.1: using MODSEQ enables CONDSTORE
        a.ok("STORE 1 -FLAGS (\\Answered)")
        fs = fetches(b.ok("NOOP"))
        assert "MODSEQ" in fs[1], fs
    finally:
        a.logout()
        b.logout()


@t
def qresync(f):
    user = f.user()
    a = f.conn(user)
    try:
        uids = fill(a, 4)
        a.ok("ENABLE QRESYNC")
        info = select(a)
        v, m0 = int(info["UIDVALIDITY"]), int(info["HIGHESTMODSEQ"])
    finally:
        a.logout()
    # Another session changes things while A is away.
    b = f.conn(user)
    try:
        select(b)
        b.ok("UID STORE %d +FLAGS (\\Seen)" % uids[0])
        b.ok("UID STORE %d +FLAGS.SILENT (\\Deleted)" % uids[2])
        b.ok("EXPUNGE")
        new_uid = append(b, "INBOX", message(subject="while away"))
    finally:
        b.logout()
    # RFC 7162 3.2.5: one round trip brings A up to date.
    a = f.conn(user)
    try:
        a.ok("ENABLE QRESYNC")
        info = select(a, "INBOX", "(QRESYNC (%d %d))" % (v, m0))
        u = info["untagged"]
        assert info["EXISTS"] == 4, info
        van = [r for r in u if r.startswith(b"* VANISHED (EARLIER) ")]
        assert len(van) == 1 and expand_set(van[0].split()[-1].decode()) == [uids[2]], u
        fs = {int(x["UID"]): x for x in fetches(u).values()}
        assert uids[0] in fs and "\\Seen" in fs[uids[0]]["FLAGS"] and modseq(fs[uids[0]]) > m0, u
        assert new_uid in fs, "new message not in the QRESYNC FETCHes: %r" % u
        assert uids[1] not in fs and uids[3] not in fs, "unchanged messages sent: %r" % u
        assert not untagged_of(u, "EXPUNGE"), u
        m1 = int(info["HIGHESTMODSEQ"])
        # Known UIDs narrow VANISHED to those the client knows.
        info = select(a, "INBOX", "(QRESYNC (%d %d %d:%d))" % (v, m0, uids[0], uids[1]))
        assert not [r for r in info["untagged"] if r.startswith(b"* VANISHED")], info["untagged"]
        # A stale UIDVALIDITY: a plain SELECT, no VANISHED.
        info = select(a, "INBOX", "(QRESYNC (%d %d))" % (v + 1, m0))
        assert not [r for r in info["untagged"] if b"VANISHED" in r], info["untagged"]
        assert not untagged_of(info["untagged"], "FETCH"), info["untagged"]
        # UID FETCH ... (CHANGEDSINCE m VANISHED) (RFC 7162 3.2.6).
        u = a.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % m0)
        van = [r for r in u if r.startswith(b"* VANISHED (EARLIER) ")]
        assert len(van) == 1 and expand_set(van[0].split()[-1].decode()) == [uids[2]], u
        assert sorted(int(x["UID"]) for x in fetches(u).values()) == [uids[0], new_uid], u
        # While selected, another session's expunge is a VANISHED (RFC 7162 3.2.10).
        b = f.conn(user)
        try:
            select(b)
            b.ok("UID STORE %d +FLAGS.SILENT (\\Deleted)" % uids[1])
            b.ok("UID EXPUNGE %d" % uids[1])
        finally:
            b.logout()
        u = a.ok("NOOP")
        assert u[:1] == [b"* VANISHED %d" % uids[1]] and not untagged_of(u, "EXPUNGE"), u
        # And our own EXPUNGE too.
        a.ok("UID STORE %d +FLAGS.SILENT (\\Deleted)" % new_uid)
        u = a.ok("EXPUNGE")
        assert u == [b"* VANISHED %d" % new_uid], u
        assert int(select(a)["HIGHESTMODSEQ"]) > m1
        # QRESYNC parameters without ENABLE QRESYNC are BAD.
        c = f.conn(user)
        try:
            u, tagged = c.cmd("SELECT INBOX (QRESYNC (%d %d))" % (v, m0), tag="q")
            assert tagged.startswith("q BAD"), tagged
        finally:
            c.logout()
    finally:
        a.logout()


@t
def pop3_dele_is_an_imap_expunge(f):
    user = f.user()
    a = f.conn(user)
    try:
        uids = fill(a, 3)
        select(a)
        p = pop3(f.srv, user)
        try:
            assert p.stat()[0] == 3
            p.dele(2)
        finally:
            p.quit()
        view = list(uids)
        u = a.ok("NOOP")
        assert apply_expunges(view, u) == [uids[1]], u
        assert uids_of(a) == [uids[0], uids[2]]
        # And an IMAP expunge is gone for POP3.
        a.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        a.ok("EXPUNGE")
        p = pop3(f.srv, user)
        try:
            assert p.stat()[0] == 1
            lines = p.retr(1)[1]
            assert b"Subject: sync 2" in lines, lines
        finally:
            p.quit()
    finally:
        a.logout()


@t
def imap_flags_keep_pop3_uidl(f):
    user = f.user()
    s = smtp(f.srv)
    for i in range(3):
        s.sendmail("sender@example.org", [user], message(subject="uidl %d" % i, to=user))
    s.quit()
    before = uidls(f.srv, user)
    assert len(before) == 3
    a = f.conn(user)
    try:
        select(a)
        fs = fetches(a.ok("FETCH 1:3 (BODY[])"))     # sets \Seen
        assert all("\\Seen" in x.get("FLAGS", []) for x in fs.values()), fs.keys()
        a.ok("STORE 2 +FLAGS ($Label1 \\Flagged \\Answered)")
        a.ok("COPY 1 Archive")
    finally:
        a.logout()
    assert uidls(f.srv, user) == before
    # POP3 RETR does not undo the IMAP flags either.
    p = pop3(f.srv, user)
    try:
        p.retr(2)
    finally:
        p.quit()
    a = f.conn(user)
    try:
        select(a)
        fs = fetches(a.ok("FETCH 2 FLAGS"))
        assert {"\\Seen", "$Label1", "\\Flagged", "\\Answered"} <= set(fs[2]["FLAGS"]), fs
    finally:
        a.logout()


@t
def idle_woken_by_pop3_submission_and_rename(f):
    user = f.user()
    sender = f.user()
    a, b = f.conn(user), f.conn(user)
    try:
        uids = fill(a, 3)
        select(a)
        tag = idle(a)
        # POP3 DELE + QUIT.
        p = pop3(f.srv, user)
        p.dele(1)
        p.quit()
        got, _ = idle_wait(a, lambda r: r.endswith(b"EXPUNGE"))
        assert got == [b"* 1 EXPUNGE"], got
        # Local delivery from an authenticated submission.
        s = submission(f.srv, sender)
        s.sendmail(sender, [user], message(sender=sender, to=user, subject="from a colleague"))
        s.quit()
        got, _ = idle_wait(a, lambda r: r.endswith(b"EXISTS"))
        assert got == [b"* 3 EXISTS"], got
        # RENAME INBOX elsewhere moves every message away (RFC 9051 6.3.6).
        b.ok('RENAME INBOX "Inbox before"')
        got = []
        while len(got) < 4:
            more, _ = idle_wait(a, lambda r: r.endswith(b"EXPUNGE"))
            got += more
        # the RECENT after the delivery's EXISTS (RFC 3501 7.3.2) comes first
        assert got == [b"* 3 RECENT"] + [b"* 1 EXPUNGE"] * 3, got
        assert idle_done(a, tag) == []
        assert status_of(b.ok('STATUS "Inbox before" (MESSAGES)'))["Inbox before"]["MESSAGES"] == 3
    finally:
        a.logout()
        b.logout()


run()
