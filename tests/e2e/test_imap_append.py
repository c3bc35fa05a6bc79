"""End-to-end tests of APPEND (RFC 9051 6.3.12, RFC 3502 MULTIAPPEND,
RFC 4315 APPENDUID, RFC 3516 literal8, RFC 7888 LITERAL+): byte-exact
APPEND -> FETCH BODY[] round trips of 8-bit, binary and CRLF messages,
small and large (streamed to disk), with synchronising and
non-synchronising literals and with imaplib; flags and internal dates
kept; errors."""

import imaplib
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Suite  # noqa: E402
from imapcheck import (  # noqa: E402
    Lit, check, expand_set, fetches, imaplib_client, internaldate_epoch, select, shared_suite, status_of,
    untagged_of)

suite = Suite()
t, run = shared_suite(suite)


def appenduid(tagged):
    m = re.search(r"\[APPENDUID (\d+) (\S+)\]", tagged)
    assert m, "no APPENDUID in %r" % tagged
    return int(m.group(1)), expand_set(m.group(2))


def append(c, msg, mailbox="INBOX", flags=None, date=None, sync=True, literal8=False):
    pieces = ['APPEND "%s" ' % mailbox]
    if flags is not None:
        pieces.append("(%s) " % flags)
    if date is not None:
        pieces.append('"%s" ' % date)
    pieces.append(Lit(msg, sync=sync, literal8=literal8))
    u, tagged, sent = c.cmd_literals(pieces)
    assert sent and re.match(r"t\d+ OK", tagged), tagged
    return appenduid(tagged)[1][0]


def body_of(c, uid):
    fs = fetches(c.ok("UID FETCH %d (BODY.PEEK[] RFC822.SIZE)" % uid))
    (items,) = fs.values()
    return items["BODY[]"], int(items["RFC822.SIZE"])


EIGHT_BIT = ("From: Zoë <zoe@example.org>\r\nSubject: Grüße, ça va? 日本\r\n"
             "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
             "Größe: 10 € — naïve café\r\n.\r\n..leading dots\r\n"
             "trailing spaces   \r\n\ttab\r\n\r\n\r\n").encode() + b"latin-1 \xe9\xe8\xff bytes\r\n" + \
    b"x" * 5000 + b"\r\nend\r\n"
CRLF_NO_FINAL = b"From: a@example.org\r\nSubject: no final newline\r\n\r\nline 1\r\n\r\nlast line, no CRLF"
BINARY = (b"From: a@example.org\r\nSubject: binary\r\nMIME-Version: 1.0\r\n"
          b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n" +
          bytes(range(256)) * 4 + b"\x00\x00\r\n\x00")


@t
def eight_bit_and_crlf_round_trip(f):
    user = f.user()
    c = f.conn(user)
    try:
        for msg in (EIGHT_BIT, CRLF_NO_FINAL, b"Subject: x\r\n\r\n\r\n", b"Subject: only a header\r\n",
                    b"\r\nbody without header\r\n"):
            for sync in (True, False):
                uid = append(c, msg, sync=sync)
                select(c)
                got, size = body_of(c, uid)
                assert got == msg, "sync=%s: stored %r\n sent %r" % (sync, got[:200], msg[:200])
                assert size == len(msg), (size, len(msg))
        # The pieces of the 8-bit message too.
        uid = append(c, EIGHT_BIT)
        select(c)
        fs = fetches(c.ok("UID FETCH %d (BODY.PEEK[TEXT] BODY.PEEK[HEADER])" % uid))
        (items,) = fs.values()
        cut = EIGHT_BIT.index(b"\r\n\r\n") + 4
        assert items["BODY[HEADER]"] == EIGHT_BIT[:cut] and items["BODY[TEXT]"] == EIGHT_BIT[cut:], items
    finally:
        c.logout()


@t
def binary_round_trip_with_literal8(f):
    user = f.user()
    c = f.conn(user)
    try:
        uid = append(c, BINARY, literal8=True)
        select(c)
        fs = fetches(c.ok("UID FETCH %d (BINARY.PEEK[] BINARY.SIZE[] RFC822.SIZE)" % uid))
        (items,) = fs.values()
        assert items["BINARY[]"] == BINARY, "BINARY[] differs"
        assert getattr(items["BINARY[]"], "literal8", False), "NUL bytes sent in a plain literal"
        assert int(items["BINARY.SIZE[]"]) == len(BINARY), items
        assert int(items["RFC822.SIZE"]) == len(BINARY), items
        # BODY[] may not carry NUL (RFC 9051 4.3.1: "unencoded binary
        # strings are not permitted, unless returned in a <literal8> in
        # response to a BINARY[...] FETCH"): only BINARY[] is byte-exact.
        got, size = body_of(c, uid)
        assert b"\x00" not in got and not getattr(got, "literal8", False), \
            "BODY[] of a binary message sent with NUL in a %s" % ("literal8" if got.literal8 else "plain literal")
        assert len(got) == len(BINARY) and size == len(BINARY), (len(got), size)
        # The part: binary content-transfer-encoding is the identity.
        fs = fetches(c.ok("UID FETCH %d (BINARY.PEEK[1] BODY.PEEK[TEXT])" % uid))
        (items,) = fs.values()
        text = BINARY[BINARY.index(b"\r\n\r\n") + 4:]
        assert items["BINARY[1]"] == text, "BINARY[1] differs"
        assert b"\x00" not in items["BODY[TEXT]"], "BODY[TEXT] sent with NUL"
        # A literal8 with LITERAL+ too.
        uid = append(c, BINARY, sync=False, literal8=True)
        fs = fetches(c.ok("UID FETCH %d (BINARY.PEEK[])" % uid))
        assert list(fs.values())[0]["BINARY[]"] == BINARY
        # NUL in a plain literal is refused (RFC 9051 4.3: CHAR8 excludes NUL).
        u, tagged, sent = c.cmd_literals(["APPEND INBOX ", Lit(BINARY)], tag="nul")
        assert tagged.startswith("nul BAD") or tagged.startswith("nul NO") or tagged.startswith("nul OK"), tagged
        c.ok("NOOP")
    finally:
        c.logout()


@t
def large_messages_streamed(f):
    user = f.user()
    c = f.conn(user)
    try:
        line = b"0123456789" * 7 + b"\r\n"
        for sync in (False, True):
            for size_kib in (20, 1024, 5 * 1024):
                msg = b"Subject: large %d KiB\r\n\r\n" % size_kib + line * (size_kib * 1024 // len(line))
                uid = append(c, msg, sync=sync)
                select(c)
                got, size = body_of(c, uid)
                assert size == len(msg) and got == msg, "%d KiB sync=%s: %d bytes back" % (size_kib, sync, len(got))
                # Partial fetches of a large body read the right bytes.
                fs = fetches(c.ok("UID FETCH %d (BODY.PEEK[]<%d.100>)" % (uid, len(msg) - 50)))
                assert list(fs.values())[0]["BODY[]<%d>" % (len(msg) - 50)] == msg[-50:]
    finally:
        c.logout()


@t
def multiappend_flags_and_dates(f):
    user = f.user()
    c = f.conn(user)
    try:
        msgs = [b"Subject: one\r\n\r\nfirst\r\n", b"Subject: two\r\n\r\nsecond\r\n",
                b"Subject: three\r\n\r\n" + b"third " * 5000 + b"\r\n"]
        # SEARCH BEFORE/ON/SINCE use the internal date's day in UTC
        # (docs/IMAP.md), so the second date stays inside one UTC day.
        dates = ["01-Feb-2024 10:20:30 +0100", "31-Dec-1999 12:00:00 -0800", None]
        st0 = status_of(c.ok('STATUS "Sent" (UIDVALIDITY UIDNEXT)'))["Sent"]
        u, tagged, sent = c.cmd_literals([
            'APPEND "Sent" (\\Seen) "%s" ' % dates[0], Lit(msgs[0]),
            ' (\\Draft $Label1 \\Flagged) "%s" ' % dates[1], Lit(msgs[1], sync=False),
            " ", Lit(msgs[2])])
        assert sent and re.match(r"t\d+ OK", tagged), tagged
        v, uids = appenduid(tagged)
        assert v == st0["UIDVALIDITY"] and len(uids) == 3 and uids[0] >= st0["UIDNEXT"], (tagged, st0)
        assert uids == sorted(uids) and len(set(uids)) == 3, uids
        before = time.time()
        c.ok('EXAMINE "Sent"')
        fs = fetches(c.ok("UID FETCH %d:%d (FLAGS INTERNALDATE BODY.PEEK[])" % (uids[0], uids[2])))
        got = {int(x["UID"]): x for x in fs.values()}
        # new messages nobody has seen: \Recent also under EXAMINE (RFC 3501 2.3.2)
        assert got[uids[0]]["FLAGS"] == ["\\Recent", "\\Seen"], got[uids[0]]
        assert set(got[uids[1]]["FLAGS"]) == {"\\Recent", "\\Draft", "$Label1", "\\Flagged"}, got[uids[1]]
        assert got[uids[2]]["FLAGS"] == ["\\Recent"], got[uids[2]]
        for i in range(3):
            assert got[uids[i]]["BODY[]"] == msgs[i], i
        assert internaldate_epoch(got[uids[0]]["INTERNALDATE"]) == internaldate_epoch(dates[0])
        assert internaldate_epoch(got[uids[1]]["INTERNALDATE"]) == internaldate_epoch(dates[1])
        assert abs(internaldate_epoch(got[uids[2]]["INTERNALDATE"]) - before) < 120, got[uids[2]]
        # SEARCH by internal date sees the kept dates.
        u = c.ok("UID SEARCH BEFORE 1-Jan-2000")
        assert untagged_of(u, "SEARCH") == [b"* SEARCH %d" % uids[1]], u
    finally:
        c.logout()


@t
def append_while_selected_and_errors(f):
    user = f.user()
    c = f.conn(user)
    try:
        select(c)
        # The new message is told before the tagged OK (RFC 9051 6.3.12).
        u, tagged, sent = c.cmd_literals(["APPEND INBOX ", Lit(b"Subject: a\r\n\r\nx\r\n")])
        assert untagged_of(u, "EXISTS") == [b"* 1 EXISTS"], u
        u, tagged, sent = c.cmd_literals(["APPEND INBOX ", Lit(b"Subject: b\r\n\r\ny\r\n"), " ",
                                          Lit(b"Subject: c\r\n\r\nz\r\n")])
        assert untagged_of(u, "EXISTS") == [b"* 3 EXISTS"], u
        # Errors.
        u, tagged, sent = c.cmd_literals(['APPEND "nothere" ', Lit(b"Subject: a\r\n\r\nx\r\n")], tag="tc")
        assert tagged.startswith("tc NO [TRYCREATE]"), tagged
        c.send("empty APPEND INBOX {0}\r\n")
        r = c.response()
        if r.startswith(b"+"):
            c.send("\r\n")
            u, tagged = c.read_until_tagged("empty")
        else:
            tagged = r.decode()
        assert tagged.startswith("empty NO") or tagged.startswith("empty BAD"), tagged
        for bad_args in ('"not a date" ', '"32-Jan-2024 10:00:00 +0000" ', "(\\Bogus-System-Flag ",
                         '(\\Seen) "01-Feb-2024 10:20:30" '):
            u, tagged, sent = c.cmd_literals(["APPEND INBOX " + bad_args, Lit(b"Subject: a\r\n\r\nx\r\n")],
                                             tag="bad")
            assert tagged.startswith("bad BAD") or tagged.startswith("bad NO"), (bad_args, tagged)
        c.ok("NOOP")
        u, tagged = c.cmd("APPEND INBOX", tag="noarg")
        assert tagged.startswith("noarg BAD"), tagged
        assert status_of(c.ok("STATUS INBOX (MESSAGES)"))["INBOX"]["MESSAGES"] == 3
    finally:
        c.logout()


@t
def multiappend_past_the_limit(f):
    """RFC 3502 sets no bound on the messages of one MULTIAPPEND; ours is
    1,000 (docs/IMAP.md).  Past it the command is valid but refused by a
    server bound: NO [LIMIT] (RFC 5530), all or none, and the connection
    stays usable whatever the literals' form."""
    user = f.user()
    c = f.conn(user)
    # 1,000 "+" round trips: without this each would wait for a delayed ACK.
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    tiny = [b"Subject: m%d\r\n\r\nx\r\n" % i for i in range(1001)]
    try:
        # 1,000 is allowed.
        pieces = ["APPEND INBOX "]
        for m in tiny[:1000]:
            pieces += [Lit(m, sync=False), " "]
        u, tagged, sent = c.cmd_literals(pieces[:-1], tag="k")
        assert tagged.startswith("k OK [APPENDUID "), tagged
        assert len(appenduid(tagged)[1]) == 1000, tagged
        # Synchronising literals: the 1,001st is refused instead of "+",
        # so the client never sends it.
        pieces = ["APPEND INBOX "]
        for m in tiny:
            pieces += [Lit(m), " "]
        u, tagged, sent = c.cmd_literals(pieces[:-1], tag="s")
        assert not sent, "the server asked for the 1,001st message"
        assert tagged == "s NO [LIMIT] Too many messages in one APPEND (at most 1000)", tagged
        c.ok("NOOP")
        # Non-synchronising literals: all read, none stored, the stream in
        # sync: the command after them is understood.
        line = b"n APPEND INBOX"
        for m in tiny:
            line += b" {%d+}\r\n" % len(m) + m
        c.send(line + b"\r\nafter NOOP\r\n")
        u, tagged = c.read_until_tagged("n")
        assert tagged == "n NO [LIMIT] Too many messages in one APPEND (at most 1000)", tagged
        u, tagged = c.read_until_tagged("after")
        assert tagged.startswith("after OK"), tagged
        # The same with the last one large enough to be streamed to a
        # spool file (16 KiB and up): dropped too.
        big = b"Subject: big\r\n\r\n" + b"y" * 20000 + b"\r\n"
        line = b"nb APPEND INBOX"
        for m in tiny[:1000] + [big]:
            line += b" {%d+}\r\n" % len(m) + m
        c.send(line + b"\r\nafter2 NOOP\r\n")
        u, tagged = c.read_until_tagged("nb")
        assert tagged == "nb NO [LIMIT] Too many messages in one APPEND (at most 1000)", tagged
        u, tagged = c.read_until_tagged("after2")
        assert tagged.startswith("after2 OK"), tagged
        assert status_of(c.ok("STATUS INBOX (MESSAGES)"))["INBOX"]["MESSAGES"] == 1000
        spool = os.path.join(f.srv.data, "spool")
        assert not os.path.isdir(spool) or os.listdir(spool) == [], os.listdir(spool)
    finally:
        c.logout()


@t
def imaplib_append(f):
    user = f.user()
    m = imaplib_client(f.srv, user)
    try:
        small = b"Subject: via imaplib\r\n\r\nhello from imaplib\r\n"
        big = b"Subject: big via imaplib\r\n\r\n" + b"imaplib line of text\r\n" * 3000
        for msg, flags in ((small, r"(\Seen)"), (big, None)):
            typ, data = m.append("INBOX", flags, imaplib.Time2Internaldate(1700000000), msg)
            assert typ == "OK", (typ, data)
        check(m.select("INBOX"))
        typ, data = m.fetch("1:2", "(BODY.PEEK[] FLAGS INTERNALDATE)")
        assert typ == "OK", data
        bodies = [d[1] for d in data if isinstance(d, tuple)]
        assert bodies == [small, big], [len(b) for b in bodies]
        # Items come in the order asked: FLAGS and INTERNALDATE follow
        # the literal, in the next element of imaplib's list.
        tails = [data[i + 1] for i, d in enumerate(data) if isinstance(d, tuple)]
        assert b"\\Seen" in tails[0], tails
        for h in tails:
            when = imaplib.Internaldate2tuple(h)
            assert when is not None and time.mktime(when) == 1700000000, h
    finally:
        m.logout()


run()
