"""End-to-end tests of METADATA (RFC 5464): the capabilities METADATA and
METADATA-SERVER; SETMETADATA and GETMETADATA of server ("") and mailbox
entries under /private and /shared (4.2, 4.3); NIL for an entry asked for
that does not exist; DEPTH 0, 1 and infinity; MAXSIZE with
[METADATA LONGENTRIES n]; removal with NIL; entry names case-insensitive
and checked (BAD); literal8 values; the limits with [METADATA MAXSIZE n]
and [METADATA TOOMANY]; NONEXISTENT mailboxes; and entries that follow a
RENAME and go with a DELETE (3.3).  Expected answers are written from the
RFC's examples; NIL, LONGENTRIES, literal values and the DEPTH answers
were cross-checked with Dovecot 2.3 (imap_metadata = yes)."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Suite  # noqa: E402
from imapcheck import Lit, parse, shared_suite, untagged_of  # noqa: E402

suite = Suite()
t, run = shared_suite(suite)


def metadata(untagged):
    """'* METADATA mbox (e1 v1 e2 v2)' -> (mbox, {entry: value bytes or None})."""
    rs = untagged_of(untagged, "METADATA")
    assert len(rs) == 1, untagged
    v = parse(rs[0][len(b"* METADATA "):])
    mbox = v[0].decode() if isinstance(v[0], bytes) else v[0]
    items = v[1]
    out = {}
    for k, x in zip(items[0::2], items[1::2]):
        out[k.decode() if isinstance(k, bytes) else k] = x
    return mbox, out, [k.decode() if isinstance(k, bytes) else k for k in items[0::2]]


@t
def server_and_mailbox_entries(f):
    a = f.conn(f.user())
    try:
        caps = a.ok("CAPABILITY")[0].decode().upper().split()
        assert "METADATA" in caps and "METADATA-SERVER" in caps, caps
        # RFC 5464 4.2.1's example: an absent server entry is NIL.
        mbox, e, _ = metadata(a.ok('GETMETADATA "" /shared/comment'))
        assert mbox == "" and e == {"/shared/comment": None}, e
        a.ok('SETMETADATA "" (/shared/comment "Shared comment")')
        mbox, e, _ = metadata(a.ok('GETMETADATA "" /shared/comment'))
        assert e == {"/shared/comment": b"Shared comment"}, e
        # 4.3's example on a mailbox, /private and /shared side by side.
        a.ok('SETMETADATA INBOX (/private/comment "My own comment" /shared/comment "Everybody")')
        mbox, e, order = metadata(a.ok("GETMETADATA INBOX (/private/comment /shared/comment)"))
        assert mbox == "INBOX" and order == ["/private/comment", "/shared/comment"], order
        assert e["/private/comment"] == b"My own comment" and e["/shared/comment"] == b"Everybody", e
        # The server's and the mailbox's are apart.
        _, e, _ = metadata(a.ok('GETMETADATA "" /shared/comment'))
        assert e["/shared/comment"] == b"Shared comment", e
        # Names are case-insensitive (3.2).
        _, e, _ = metadata(a.ok("GETMETADATA INBOX /PRIVATE/Comment"))
        assert e == {"/private/comment": b"My own comment"}, e
        # NIL removes (4.3).
        a.ok("SETMETADATA INBOX (/private/comment NIL)")
        _, e, _ = metadata(a.ok("GETMETADATA INBOX /private/comment"))
        assert e == {"/private/comment": None}, e
        # A literal8 value keeps its NUL.
        untagged, tagged, sent = a.cmd_literals(["SETMETADATA INBOX (/private/bin ",
                                                 Lit(b"a\x00b", literal8=True), ")"])
        assert sent and " OK" in tagged, tagged
        _, e, _ = metadata(a.ok("GETMETADATA INBOX /private/bin"))
        assert e["/private/bin"] == b"a\x00b" and e["/private/bin"].literal8, e
    finally:
        a.logout()


@t
def depth_and_maxsize(f):
    a = f.conn(f.user())
    try:
        a.ok('SETMETADATA INBOX (/private/a "1" /private/a/b "22" /private/a/b/c "333" /private/ab "x")')
        # DEPTH 0 (the default): the entry alone.
        _, e, _ = metadata(a.ok("GETMETADATA (DEPTH 0) INBOX /private/a"))
        assert list(e) == ["/private/a"], e
        # DEPTH 1: and its children, not /private/ab (not below /private/a).
        _, e, order = metadata(a.ok("GETMETADATA (DEPTH 1) INBOX /private/a"))
        assert order == ["/private/a", "/private/a/b"], order
        _, e, order = metadata(a.ok("GETMETADATA (DEPTH infinity) INBOX /private/a"))
        assert order == ["/private/a", "/private/a/b", "/private/a/b/c"], order
        # An absent entry asked with its subtree is left out (4.2.2's
        # example); asked alone it is NIL.
        _, e, order = metadata(a.ok("GETMETADATA (DEPTH infinity) INBOX /private"))
        assert order == ["/private/a", "/private/a/b", "/private/a/b/c", "/private/ab"], order
        _, e, order = metadata(a.ok("GETMETADATA (DEPTH 1) INBOX (/private/none /private/a/b)"))
        assert order == ["/private/a/b", "/private/a/b/c"], order
        assert untagged_of(a.ok("GETMETADATA (DEPTH 1) INBOX /private/none"), "METADATA") == []
        _, e, order = metadata(a.ok("GETMETADATA INBOX (/private/none /private/a)"))
        assert order == ["/private/none", "/private/a"] and e["/private/none"] is None, order
        # MAXSIZE (4.2.1): larger values are left out and the largest told.
        untagged, tagged = a.ok_tagged("GETMETADATA (MAXSIZE 2 DEPTH infinity) INBOX /private/a")
        _, e, order = metadata(untagged)
        assert order == ["/private/a", "/private/a/b"], order
        assert re.search(r" OK \[METADATA LONGENTRIES 3\]", tagged), tagged
        for bad in ("GETMETADATA (DEPTH 2) INBOX /private/a",
                    "GETMETADATA (MAXSIZE x) INBOX /private/a",
                    "GETMETADATA (FOO 1) INBOX /private/a",
                    "GETMETADATA (DEPTH 1 DEPTH 0) INBOX /private/a",
                    "GETMETADATA INBOX",
                    "GETMETADATA INBOX ()"):
            _, tagged = a.cmd(bad)
            assert " BAD " in tagged, (bad, tagged)
    finally:
        a.logout()


@t
def names_and_limits(f):
    a = f.conn(f.user())
    try:
        for bad in ("/comment", "/private/", "/private//x", "/private/a*", "/private/%", "comment",
                    "/privatex/y", "/shared"):
            _, tagged = a.cmd('SETMETADATA INBOX (%s "v")' % bad)
            assert " BAD " in tagged, (bad, tagged)
        for bad in ('SETMETADATA INBOX (/private/a)', 'SETMETADATA INBOX /private/a "v"',
                    'SETMETADATA INBOX (/private/a v)'):
            _, tagged = a.cmd(bad)
            assert " BAD " in tagged, (bad, tagged)
        # Our value bound (16384 octets): NO [METADATA MAXSIZE 16384] (4.3).
        untagged, tagged, sent = a.cmd_literals(["SETMETADATA INBOX (/private/big ", Lit(b"x" * 16385), ")"])
        assert re.search(r" NO \[METADATA MAXSIZE 16384\]", tagged), tagged
        untagged, tagged, sent = a.cmd_literals(["SETMETADATA INBOX (/private/big ", Lit(b"x" * 16384), ")"])
        assert " OK" in tagged, tagged
        # Our entry bound (128 per mailbox): NO [METADATA TOOMANY], and the
        # command is all or nothing.
        for i in range(0, 120, 30):
            a.ok("SETMETADATA INBOX (%s)" % " ".join('/private/e%d "v"' % k for k in range(i, i + 30)))
        _, tagged = a.cmd("SETMETADATA INBOX (%s)" % " ".join('/private/f%d "v"' % k for k in range(10)))
        assert re.search(r" NO \[METADATA TOOMANY\]", tagged), tagged
        _, e, _ = metadata(a.ok("GETMETADATA INBOX /private/f0"))
        assert e == {"/private/f0": None}, e
        # Other mailboxes have their own room.
        a.ok('CREATE "other"')
        a.ok('SETMETADATA other (/private/f0 "v")')
        # No such mailbox.
        _, tagged = a.cmd('SETMETADATA nosuch (/private/a "v")')
        assert " NO [NONEXISTENT]" in tagged, tagged
        _, tagged = a.cmd('GETMETADATA nosuch /private/a')
        assert " NO [NONEXISTENT]" in tagged, tagged
    finally:
        a.logout()


@t
def rename_and_delete(f):
    a = f.conn(f.user())
    try:
        a.ok('CREATE "box"')
        a.ok('SETMETADATA box (/private/comment "mine")')
        a.ok('RENAME "box" "moved"')
        _, e, _ = metadata(a.ok("GETMETADATA moved /private/comment"))
        assert e == {"/private/comment": b"mine"}, e
        a.ok('CREATE "box"')
        _, e, _ = metadata(a.ok("GETMETADATA box /private/comment"))
        assert e == {"/private/comment": None}, e
        a.ok('DELETE "moved"')
        a.ok('CREATE "moved"')
        _, e, _ = metadata(a.ok("GETMETADATA moved /private/comment"))
        assert e == {"/private/comment": None}, e
    finally:
        a.logout()


run()
