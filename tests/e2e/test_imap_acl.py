"""ACL (RFC 4314) and LIST-MYRIGHTS (RFC 8440) for mailboxes with one
owner.  Expected answers from the RFCs' grammar: the owner has every
right (lrswipkxtea, RIGHTS=texk), nobody else can be given one, and the
commands on a mailbox that does not exist answer NO."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Suite  # noqa: E402
from imapcheck import shared_suite  # noqa: E402

suite = Suite()
t, run = shared_suite(suite)
ALL = "lrswipkxtea"


def tagged_is(c, cmd, status):
    untagged, tagged = c.cmd(cmd)
    assert re.match(r"t\d+ %s( |$)" % status, tagged), (cmd, tagged)
    return [u.decode() for u in untagged]


@t
def owner_has_every_right(f):
    user = f.user()
    c = f.conn(user)
    try:
        caps = c.ok("CAPABILITY")[0].decode().split()
        assert "ACL" in caps and "RIGHTS=texk" in caps and "LIST-MYRIGHTS" in caps, caps
        c.ok('CREATE "Work/Q1"')
        assert tagged_is(c, "MYRIGHTS INBOX", "OK") == ["* MYRIGHTS INBOX " + ALL]
        assert tagged_is(c, 'MYRIGHTS "Work/Q1"', "OK") == ['* MYRIGHTS Work/Q1 ' + ALL]
        assert tagged_is(c, "GETACL INBOX", "OK") == ['* ACL INBOX "%s" %s' % (user, ALL)]
        assert tagged_is(c, 'LISTRIGHTS INBOX "%s"' % user, "OK") == \
            ['* LISTRIGHTS INBOX "%s" %s' % (user, ALL)]
        assert tagged_is(c, "LISTRIGHTS INBOX anyone", "OK") == ['* LISTRIGHTS INBOX "anyone" ""']
        # what changes nothing is OK; what would share or take rights is NO
        tagged_is(c, 'SETACL INBOX "%s" +lr' % user, "OK")
        tagged_is(c, 'SETACL INBOX "%s" %s' % (user, ALL), "OK")
        tagged_is(c, 'SETACL INBOX "%s" -w' % user, r"NO \[NOPERM\]")
        tagged_is(c, "SETACL INBOX bob@example.test lr", r"NO \[NOPERM\]")
        tagged_is(c, "SETACL INBOX bob@example.test -lr", "OK")
        tagged_is(c, 'SETACL INBOX bob@example.test ""', "OK")
        tagged_is(c, "SETACL INBOX bob@example.test +Z", "BAD")
        tagged_is(c, "DELETEACL INBOX bob@example.test", "OK")
        tagged_is(c, 'DELETEACL INBOX "%s"' % user, r"NO \[NOPERM\]")
        # a mailbox that does not exist
        for cmd in ("MYRIGHTS Nope", "GETACL Nope", "LISTRIGHTS Nope anyone", "SETACL Nope anyone lr",
                    "DELETEACL Nope anyone"):
            tagged_is(c, cmd, r"NO \[NONEXISTENT\]")
        tagged_is(c, "MYRIGHTS", "BAD")
        tagged_is(c, "GETACL INBOX extra", "BAD")
    finally:
        c.logout()


@t
def list_return_myrights(f):
    """RFC 8440 2: a MYRIGHTS response after each LIST response of a
    mailbox that exists, none for a name that is not a mailbox."""
    user = f.user()
    c = f.conn(user)
    try:
        c.ok('CREATE "A/B"')
        got = tagged_is(c, 'LIST "" ("A" "A/*") RETURN (MYRIGHTS)', "OK")
        assert got == ['* LIST () "/" A', "* MYRIGHTS A " + ALL,
                       '* LIST () "/" A/B', "* MYRIGHTS A/B " + ALL], got
        # A deleted, its inferior kept: A is no mailbox, so no rights
        c.ok('DELETE "A"')
        got = tagged_is(c, 'LIST "" ("A" "A/*") RETURN (MYRIGHTS)', "OK")
        assert got == ['* LIST (\\NonExistent) "/" A', '* LIST () "/" A/B', "* MYRIGHTS A/B " + ALL], got
    finally:
        c.logout()


run()
