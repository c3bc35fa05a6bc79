"""OBJECTID (RFC 8474), expected answers from the RFC: MAILBOXID in
CREATE's OK, SELECT and STATUS, kept by RENAME and new for a mailbox made
again; EMAILID in FETCH, the same for a message and its copies (COPY,
MOVE), different for another message with the same bytes; THREADID NIL
(RFC 8474 5.2: a server without threads); SEARCH EMAILID / THREADID."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Suite  # noqa: E402
from imapcheck import Lit, fetches, search_numbers, select, shared_suite  # noqa: E402
from mailcheck import message  # noqa: E402

suite = Suite()
t, run = shared_suite(suite)
OBJECTID = r"[A-Za-z0-9_-]{1,255}"


def mailboxid_of_status(c, name):
    got = b" ".join(c.ok('STATUS "%s" (MAILBOXID)' % name)).decode()
    m = re.search(r"MAILBOXID \((%s)\)" % OBJECTID, got)
    assert m, got
    return m.group(1)


def append(c, mailbox, msg):
    untagged, tagged, sent = c.cmd_literals(['APPEND "%s" ' % mailbox, Lit(msg)])
    assert sent and " OK " in tagged, tagged


@t
def mailboxid(f):
    user = f.user()
    c = f.conn(user)
    try:
        assert "OBJECTID" in c.ok("CAPABILITY")[0].decode().split()
        untagged, tagged = c.cmd("CREATE Projects")
        m = re.match(r"t\d+ OK \[MAILBOXID \((%s)\)\]" % OBJECTID, tagged)
        assert m, tagged
        made = m.group(1)
        untagged = c.ok("SELECT Projects")
        assert ("* OK [MAILBOXID (%s)]" % made).encode() in b"\n".join(untagged), untagged
        assert mailboxid_of_status(c, "Projects") == made
        inbox = mailboxid_of_status(c, "INBOX")
        assert inbox != made
        c.ok("UNSELECT")
        # RENAME keeps it (RFC 8474 4.1)
        c.ok("RENAME Projects Archive2")
        assert mailboxid_of_status(c, "Archive2") == made
        # a mailbox deleted and made again under the old name is another one
        c.ok("DELETE Archive2")
        untagged, tagged = c.cmd("CREATE Archive2")
        again = re.search(r"MAILBOXID \((%s)\)" % OBJECTID, tagged).group(1)
        assert again != made and mailboxid_of_status(c, "Archive2") == again
        untagged, tagged = c.cmd('STATUS Nope (MAILBOXID)')
        assert re.match(r"t\d+ NO", tagged), tagged
    finally:
        c.logout()


@t
def emailid_and_threadid(f):
    user = f.user()
    c = f.conn(user)
    try:
        c.ok("CREATE Other")
        msg = message(subject="objectid")
        append(c, "INBOX", msg)
        append(c, "INBOX", msg)           # the same bytes, another message
        select(c)
        fs = fetches(c.ok("FETCH 1:2 (EMAILID THREADID)"))
        ids = {}
        for seq in (1, 2):
            raw = fs[seq]["EMAILID"]
            assert isinstance(raw, list) and len(raw) == 1 and re.fullmatch(OBJECTID, raw[0]), raw
            assert fs[seq]["THREADID"] is None, fs[seq]
            ids[seq] = raw[0]
        assert ids[1] != ids[2], ids
        # a copy keeps its EMAILID, in the other mailbox
        c.ok("COPY 1 Other")
        c.ok("UID MOVE 2 Other")
        c.ok("SELECT Other")
        fs = fetches(c.ok("FETCH 1:* (UID EMAILID)"))
        got = sorted(v["EMAILID"][0] for v in fs.values())
        assert got == sorted(ids.values()), (got, ids)
        # SEARCH EMAILID finds it; THREADID finds nothing
        assert search_numbers(c.ok("SEARCH EMAILID %s" % ids[1])) == [1], ids
        assert search_numbers(c.ok("SEARCH THREADID T123")) == []
        for bad in ("SEARCH EMAILID", 'SEARCH EMAILID "a b"', "SEARCH EMAILID a.b"):
            untagged, tagged = c.cmd(bad)
            assert re.match(r"t\d+ BAD", tagged), (bad, tagged)
    finally:
        c.logout()


run()
