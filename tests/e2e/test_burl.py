"""End-to-end tests of BURL (RFC 4468) on submission: a message (or part
of one) taken from the sender's own IMAP mailbox by a URLAUTH URL
(RFC 4467) that the same server made, with no IMAP connection to itself.
Expected results from the RFCs by hand: what is delivered is exactly the
octets the URL names (after our trace header), BURL and BDAT chunks make
one message in order, a URL that cannot be resolved is 554 5.6.6 and ends
the transaction."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Suite  # noqa: E402
from imapcheck import Conn, Lit, parse, untagged_of  # noqa: E402
from mailcheck import assert_delivered_exact, case, fetch_all, raw_smtp, setup, submission, teardown_all  # noqa: E402

suite = Suite()
t = case(suite)

ALICE = "alice@example.test"
BOB = "bob@example.test"
DRAFT = (b"From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: from a draft\r\n"
         b"Date: Mon, 7 Dec 2026 12:00:00 +0000\r\nMessage-ID: <draft-1@example.test>\r\n\r\n"
         b"Sent with BURL.\r\n")


def imap_put(srv, user, msg):
    c = Conn(srv.port("imap"))
    c.login(user)
    u, tagged, sent = c.cmd_literals(["APPEND INBOX ", Lit(msg)])
    assert sent and " OK " in tagged, tagged
    uid = int(re.search(r"APPENDUID \d+ (\d+)", tagged).group(1))
    return c, uid


def genurlauth(c, rump):
    (line,) = untagged_of(c.ok('GENURLAUTH "%s" INTERNAL' % rump), "GENURLAUTH")
    url = parse(line[len(b"* GENURLAUTH "):])[0]
    return url.decode() if isinstance(url, bytes) else url


def burl(s, arg):
    return s.docmd("BURL", arg)


@t
def burl_offered_after_auth(f):
    srv = f.std()
    s = submission(srv)
    try:
        assert "burl" not in s.esmtp_features, s.ehlo_resp
    finally:
        s.quit()
    s = submission(srv, ALICE)
    try:
        s.ehlo()
        assert s.esmtp_features.get("burl", "").strip().lower() == "imap", s.ehlo_resp
    finally:
        s.quit()
    # Port 25 never offers or takes it.
    r = raw_smtp(srv, "smtp")
    try:
        r.send("BURL imap://alice@example.test/INBOX/;UID=1 LAST\r\n")
        assert r.reply()[-1].startswith("502 5.5.1"), "BURL on port 25"
    finally:
        r.close()


@t
def burl_sends_a_draft(f):
    srv = f.std()
    c, uid = imap_put(srv, ALICE, DRAFT)
    try:
        url = genurlauth(c, "imap://alice@example.test/INBOX/;UID=%d;URLAUTH=submit+%s" % (uid, ALICE))
        s = submission(srv, ALICE)
        try:
            s.mail(ALICE)
            s.rcpt(BOB)
            code, text = burl(s, url + " LAST")
            assert code == 250, (code, text)
        finally:
            s.quit()
        (got,) = fetch_all(srv, BOB)
        assert_delivered_exact(got, DRAFT)
        # BDAT then BURL of the body only: one message, in order.
        body = genurlauth(c, "imap://alice@example.test/INBOX/;UID=%d/;SECTION=TEXT;URLAUTH=submit+%s" % (uid, ALICE))
        head = (b"From: alice@example.test\r\nTo: bob@example.test\r\nSubject: forwarded body\r\n"
                b"Date: Mon, 7 Dec 2026 12:00:00 +0000\r\nMessage-ID: <fwd-1@example.test>\r\n\r\n")
        s = submission(srv, ALICE)
        try:
            s.mail(ALICE)
            s.rcpt(BOB)
            s.send(b"BDAT %d\r\n" % len(head) + head)
            code, text = s.getreply()
            assert code == 250, (code, text)
            code, text = burl(s, body)
            assert code == 250, (code, text)
            s.send(b"BDAT 8 LAST\r\nP.S. x\r\n")
            code, text = s.getreply()
            assert code == 250, (code, text)
        finally:
            s.quit()
        got = fetch_all(srv, BOB)[1]
        assert_delivered_exact(got, head + b"Sent with BURL.\r\nP.S. x\r\n")
        # A plain URL of the user's own mailbox is taken too (RFC 4468 3:
        # the server can read it with the user's own rights).
        s = submission(srv, ALICE)
        try:
            s.mail(ALICE)
            s.rcpt(BOB)
            code, text = burl(s, "imap://alice@example.test/INBOX/;UID=%d LAST" % uid)
            assert code == 250, (code, text)
        finally:
            s.quit()
        assert_delivered_exact(fetch_all(srv, BOB)[2], DRAFT)
    finally:
        c.logout()


@t
def burl_refusals(f):
    srv = f.std()
    c, uid = imap_put(srv, ALICE, DRAFT)
    cb, buid = imap_put(srv, BOB, DRAFT.replace(b"Alice <alice@", b"Bob <bob@"))
    try:
        good = genurlauth(c, "imap://alice@example.test/INBOX/;UID=%d;URLAUTH=submit+%s" % (uid, ALICE))
        for_bob = genurlauth(c, "imap://alice@example.test/INBOX/;UID=%d;URLAUTH=submit+%s" % (uid, BOB))
        bobs = genurlauth(cb, "imap://bob@example.test/INBOX/;UID=%d;URLAUTH=authuser" % buid)
        bad_token = good[:-1] + ("0" if good[-1] != "0" else "1")
        s = submission(srv, ALICE)
        try:
            code, text = burl(s, good + " LAST")
            assert code == 503, (code, text)           # before MAIL
            for url in (bad_token,                          # forged
                        for_bob,                            # made for another submitter
                        bobs,                               # another user's mailbox
                        "imap://bob@example.test/INBOX/;UID=%d" % buid,   # ... plainly
                        "imap://alice@example.test/INBOX/;UID=%d" % (uid + 50),   # no such message
                        "/INBOX/;UID=%d" % uid,             # not absolute
                        "not-a-url"):
                s.mail(ALICE)
                s.rcpt(BOB)
                code, text = burl(s, url + " LAST")
                assert code == 554 and text.startswith(b"5.6.6"), (url, code, text)
                # the transaction ended with it
                code, text = s.rcpt(BOB)
                assert code == 503, (url, code, text)
            s.mail(ALICE)
            s.rcpt(BOB)
            code, text = burl(s, good + " FIRST")
            assert code == 501, (code, text)
            code, text = s.rset()
        finally:
            s.quit()
        assert fetch_all(srv, BOB) == [DRAFT.replace(b"Alice <alice@", b"Bob <bob@")]
        # Once the key is reset, the URL is dead.
        c.ok("RESETKEY")
        s = submission(srv, ALICE)
        try:
            s.mail(ALICE)
            s.rcpt(BOB)
            code, text = burl(s, good + " LAST")
            assert code == 554, (code, text)
        finally:
            s.quit()
    finally:
        c.logout()
        cb.logout()


suite.run(setup, teardown_all)
