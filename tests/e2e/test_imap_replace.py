"""End-to-end tests of REPLACE and UID REPLACE (RFC 8508): the new message
is appended (its APPENDUID in an untagged OK, RFC 8508 3.3), then the
replaced one is expunged from the selected mailbox (an EXPUNGE, since
REPLACE may expunge); failures leave the original in place.  Expected
answers are written from the RFC's text and examples."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Suite  # noqa: E402
from imapcheck import Lit, fetches, select, shared_suite, status_of, untagged_of  # noqa: E402
from mailcheck import message  # noqa: E402

suite = Suite()
t, run = shared_suite(suite, max_message_size="100K")


def append(c, mailbox, msg):
    untagged, tagged, sent = c.cmd_literals(['APPEND "%s" ' % mailbox, Lit(msg)])
    m = re.search(r"\[APPENDUID (\d+) (\d+)\]", tagged)
    assert sent and m, tagged
    return int(m.group(1)), int(m.group(2))


def subjects(c):
    fs = fetches(c.ok("FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
    out = {}
    for seq, items in fs.items():
        hdr = [v for k, v in items.items() if k.startswith("BODY")][0]
        out[int(items["UID"])] = bytes(hdr).decode().strip()
    return out


@t
def replace_in_place(f):
    c = f.conn(f.user())
    try:
        c.ok('CREATE "Drafts2"')
        uv, u1 = append(c, "Drafts2", message(subject="draft v1"))
        _, u2 = append(c, "Drafts2", message(subject="other"))
        select(c, "Drafts2")
        caps = c.ok("CAPABILITY")[0].decode().split()
        assert "REPLACE" in caps, caps
        untagged, tagged, sent = c.cmd_literals(['REPLACE 1 Drafts2 (\\Draft) ', Lit(message(subject="draft v2"))])
        assert " OK " in tagged, tagged
        ok = [r.decode() for r in untagged if r.startswith(b"* OK [APPENDUID")]
        assert len(ok) == 1, untagged
        m = re.match(r"\* OK \[APPENDUID (\d+) (\d+)\]", ok[0])
        assert int(m.group(1)) == uv and int(m.group(2)) > u2, ok
        new = int(m.group(2))
        # The APPENDUID first, then the expunge of message 1 and the new
        # message's EXISTS (3 before the expunge, or 2 after it).
        assert untagged.index(ok[0].encode()) < untagged.index(b"* 1 EXPUNGE"), untagged
        assert untagged_of(untagged, "EXISTS"), untagged
        assert subjects(c) == {u2: "Subject: other", new: "Subject: draft v2"}, subjects(c)
        fs = fetches(c.ok("UID FETCH %d (FLAGS)" % new))
        assert "\\Draft" in list(fs.values())[0]["FLAGS"], fs
    finally:
        c.close()


@t
def uid_replace_elsewhere(f):
    c = f.conn(f.user())
    try:
        c.ok('CREATE "Other"')
        _, u1 = append(c, "INBOX", message(subject="one"))
        _, u2 = append(c, "INBOX", message(subject="two"))
        select(c)
        untagged, tagged, sent = c.cmd_literals(['UID REPLACE %d Other ' % u2, Lit(message(subject="moved"))])
        assert " OK " in tagged, tagged
        assert [r for r in untagged if r.startswith(b"* OK [APPENDUID ")], untagged
        assert untagged_of(untagged, "EXPUNGE") == [b"* 2 EXPUNGE"], untagged
        assert list(subjects(c).values()) == ["Subject: one"], subjects(c)
        st = status_of(c.ok("STATUS Other (MESSAGES)"))["Other"]
        assert st["MESSAGES"] == 1, st
        # A message over 16 KiB streams to the spool, as for APPEND.
        big = message(subject="big", body="x" * 40000 + "\r\n")
        untagged, tagged, sent = c.cmd_literals(['UID REPLACE %d Other ' % u1, Lit(big)])
        assert " OK " in tagged, tagged
        assert untagged_of(untagged, "EXPUNGE") == [b"* 1 EXPUNGE"], untagged
        assert status_of(c.ok("STATUS Other (MESSAGES)"))["Other"]["MESSAGES"] == 2
    finally:
        c.close()


@t
def replace_refused(f):
    c = f.conn(f.user())
    try:
        _, u1 = append(c, "INBOX", message(subject="keep me"))
        untagged, tagged, sent = c.cmd_literals(['REPLACE 1 INBOX ', Lit(message())])
        assert " BAD " in tagged, tagged   # no mailbox selected
        select(c)
        # No such message: a sequence number past the end is BAD, a UID
        # that is not there NO; a missing mailbox NO [TRYCREATE].  Each
        # leaves the original.
        untagged, tagged, sent = c.cmd_literals(['REPLACE 2 INBOX ', Lit(message())])
        assert " BAD " in tagged, tagged
        untagged, tagged, sent = c.cmd_literals(['UID REPLACE %d INBOX ' % (u1 + 100), Lit(message())])
        assert " NO " in tagged, tagged
        untagged, tagged, sent = c.cmd_literals(['REPLACE 1 Nowhere ', Lit(message())])
        assert " NO [TRYCREATE]" in tagged, tagged
        untagged, tagged, sent = c.cmd_literals(['REPLACE 1 INBOX ', Lit(message()), ' ', Lit(message())])
        assert " BAD " in tagged, tagged
        untagged, tagged, sent = c.cmd_literals(['REPLACE 1 INBOX ', Lit(message(body="y" * 200000))])
        assert " NO [TOOBIG]" in tagged and not sent, tagged
        c.ok("NOOP")
        assert list(subjects(c).values()) == ["Subject: keep me"], subjects(c)
        # EXAMINE: the replaced message could not be expunged.
        c.ok("EXAMINE INBOX")
        untagged, tagged, sent = c.cmd_literals(['REPLACE 1 INBOX ', Lit(message())])
        assert " NO [READ-ONLY]" in tagged, tagged
        assert status_of(c.ok("STATUS INBOX (MESSAGES)"))["INBOX"]["MESSAGES"] == 1
    finally:
        c.close()


run()
