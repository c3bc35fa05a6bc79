"""End-to-end tests of NOTIFY (RFC 5465): the capability; NOTIFY SET STATUS
(5.1: a STATUS for each watched mailbox before the tagged OK); STATUS for
another mailbox's new and expunged messages, sent while no command runs
and during IDLE (3, 5.2, 5.3); the selected mailbox's EXISTS, FETCH (FLAGS)
and EXPUNGE with no command running (SELECTED), and with expunges held
for a command (SELECTED-DELAYED); LIST for MailboxName (5.4) and
SubscriptionChange (5.5), METADATA for MailboxMetadataChange and
ServerMetadataChange (5.7, 5.8); NOTIFY NONE; BADEVENT for events Tern does not
report (5.9) and BAD for the combinations section 5 forbids; and
NOTIFICATIONOVERFLOW (5.8) when changes pile up past the session's bound,
after which NOTIFY is off.  Expected answers are written from the RFC;
the STATUS items, the LIST of a subscription and the selected mailbox's
EXISTS / FETCH (UID) were cross-checked with Dovecot 2.3 (mail_plugins
notify), which answers the same during IDLE."""

import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Suite  # noqa: E402
from imapcheck import Lit, fetches, list_entries, select, shared_suite, status_of, untagged_of  # noqa: E402
from mailcheck import message  # noqa: E402

suite = Suite()
t, run = shared_suite(suite)


def append(c, mailbox, subject="n"):
    untagged, tagged, sent = c.cmd_literals(['APPEND "%s" ' % mailbox, Lit(message(subject=subject))])
    assert sent and " OK" in tagged, tagged


def wait_for(c, pred, timeout=5):
    """Reads unsolicited responses (no command sent) until pred(response)."""
    c.sock.settimeout(timeout)
    got = []
    try:
        while True:
            r = c.response()
            got.append(r)
            if pred(r):
                return got
    except (socket.timeout, TimeoutError):
        raise AssertionError("nothing matching within %ds; got %r" % (timeout, got))
    finally:
        c.sock.settimeout(15)


def quiet(c, secs=0.7):
    """Nothing arrives for secs."""
    c.sock.settimeout(secs)
    try:
        r = c.response()
    except (socket.timeout, TimeoutError):
        return
    finally:
        c.sock.settimeout(15)
    raise AssertionError("unexpected unsolicited response %r" % r)


@t
def capability_and_set_status(f):
    user = f.user()
    a = f.conn(user)
    try:
        caps = a.ok("CAPABILITY")[0].decode().upper().split()
        assert "NOTIFY" in caps, caps
        a.ok('CREATE "box2"')
        append(a, "box2")
        append(a, "box2")
        # 5.1: STATUS for every mailbox of the groups with message events.
        u = a.ok("NOTIFY SET STATUS (mailboxes box2 (MessageNew MessageExpunge))")
        st = status_of(u)
        assert list(st) == ["box2"], u
        assert st["box2"]["MESSAGES"] == 2 and st["box2"]["UIDNEXT"] == 3 and "UIDVALIDITY" in st["box2"], st
        # FlagChange adds HIGHESTMODSEQ (RFC 5465 5.1 names it for FlagChange).
        st = status_of(a.ok("NOTIFY SET STATUS (mailboxes box2 (FlagChange))"))
        assert "HIGHESTMODSEQ" in st["box2"], st
        # Without STATUS, none.
        assert a.ok("NOTIFY SET (personal (MessageNew MessageExpunge))") == []
        # The selected mailbox gets no STATUS (its own updates tell).
        select(a, "box2")
        st = status_of(a.ok("NOTIFY SET STATUS (personal (MessageNew MessageExpunge))"))
        assert "box2" not in st and "INBOX" in st, st
        a.ok("NOTIFY NONE")
    finally:
        a.logout()


@t
def other_mailbox_status_without_command(f):
    user = f.user()
    a, b = f.conn(user), f.conn(user)
    try:
        b.ok('CREATE "watched"')
        b.ok('CREATE "unwatched"')
        a.ok("NOTIFY SET (mailboxes watched (MessageNew MessageExpunge))")
        append(b, "watched", "first")
        # 5.2: a STATUS with MESSAGES and UIDNEXT, unsolicited.
        got = wait_for(a, lambda r: r.startswith(b"* STATUS"))
        st = status_of(got)
        assert st["watched"]["MESSAGES"] == 1 and st["watched"]["UIDNEXT"] == 2, got
        append(b, "unwatched")
        quiet(a)
        # A flag change is not MessageNew or MessageExpunge: no STATUS.
        b.ok('SELECT "watched"')
        b.ok("STORE 1 +FLAGS (\\Flagged)")
        quiet(a)
        # 5.3: an expunge elsewhere.
        b.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        b.ok("EXPUNGE")
        got = wait_for(a, lambda r: r.startswith(b"* STATUS") and b" 0" in r)
        assert status_of(got)["watched"]["MESSAGES"] == 0, got
        # During IDLE too (RFC 5465 3).
        a.send("i1 IDLE\r\n")
        assert a.response().startswith(b"+")
        append(b, "watched")
        got = wait_for(a, lambda r: r.startswith(b"* STATUS"))
        assert status_of(got)["watched"]["MESSAGES"] == 1, got
        a.send("DONE\r\n")
        _, tagged = a.read_until_tagged("i1")
        assert tagged.startswith("i1 OK"), tagged
        # NOTIFY NONE: nothing any more.
        a.ok("NOTIFY NONE")
        append(b, "watched")
        quiet(a)
    finally:
        a.logout()
        b.logout()


@t
def subscribed_and_subtree_filters(f):
    user = f.user()
    a, b = f.conn(user), f.conn(user)
    try:
        for m in ("subbed", "plain", "tree", "tree/leaf", "treex"):
            b.ok('CREATE "%s"' % m)
        b.ok('SUBSCRIBE "subbed"')
        a.ok("NOTIFY SET (subscribed (MessageNew MessageExpunge)) (subtree tree (MessageNew MessageExpunge))")
        for m in ("plain", "treex", "subbed", "tree/leaf"):
            append(b, m)
        seen = set()

        def both(r):
            if r.startswith(b"* STATUS"):
                seen.update(status_of([r]))
            return {"subbed", "tree/leaf"} <= seen
        wait_for(a, both)
        quiet(a)
        assert seen == {"subbed", "tree/leaf"}, seen
    finally:
        a.logout()
        b.logout()


@t
def selected_updates_without_command(f):
    user = f.user()
    a, b = f.conn(user), f.conn(user)
    try:
        append(b, "INBOX", "one")
        append(b, "INBOX", "two")
        select(a)
        b.ok("SELECT INBOX")
        a.ok("NOTIFY SET (selected (MessageNew MessageExpunge FlagChange))")
        b.ok("STORE 1 +FLAGS (\\Flagged)")
        got = wait_for(a, lambda r: b"FETCH" in r)
        fs = fetches(got)
        assert "\\Flagged" in fs[1]["FLAGS"], got
        append(b, "INBOX", "three")
        got = wait_for(a, lambda r: r.endswith(b"EXISTS"))
        assert untagged_of(got, "EXISTS") == [b"* 3 EXISTS"], got
        b.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
        b.ok("EXPUNGE")
        got = wait_for(a, lambda r: r.endswith(b"EXPUNGE"))
        assert untagged_of(got, "EXPUNGE") == [b"* 2 EXPUNGE"], got
        # SELECTED-DELAYED (5.2): the expunge waits for a command.
        a.ok("NOTIFY SET (selected-delayed (MessageNew MessageExpunge))")
        b.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        b.ok("EXPUNGE")
        # (Flag changes of the selected mailbox go out with its other
        # updates: an unsolicited FETCH is always allowed, RFC 9051 7.)
        got = wait_for(a, lambda r: b"FETCH" in r)
        assert not untagged_of(got, "EXPUNGE"), got
        quiet(a)
        u = a.ok("NOOP")
        assert untagged_of(u, "EXPUNGE") == [b"* 1 EXPUNGE"], u
        # Selected NONE: nothing between commands.
        a.ok("NOTIFY SET (selected NONE) (personal (MailboxName))")
        append(b, "INBOX", "four")
        quiet(a)
        u = a.ok("NOOP")
        assert untagged_of(u, "EXISTS") == [b"* 2 EXISTS"], u
    finally:
        a.logout()
        b.logout()


@t
def selected_follows_select_and_idle(f):
    user = f.user()
    a, b = f.conn(user), f.conn(user)
    try:
        b.ok('CREATE "one"')
        b.ok('CREATE "two"')
        append(b, "two")
        a.ok("NOTIFY SET (selected-delayed (MessageNew MessageExpunge)) (personal (MessageNew MessageExpunge))")
        select(a, "one")
        # The selected mailbox: its own EXISTS, no STATUS (5.1).
        append(b, "one")
        got = wait_for(a, lambda r: r.endswith(b"RECENT"))  # IMAP4rev1: RECENT follows EXISTS
        assert untagged_of(got, "EXISTS") == [b"* 1 EXISTS"] and untagged_of(got, "STATUS") == [], got
        quiet(a)
        # Another SELECT: "one" is now just one of the personal mailboxes.
        select(a, "two")
        append(b, "one")
        got = wait_for(a, lambda r: r.startswith(b"* STATUS"))
        assert status_of(got)["one"]["MESSAGES"] == 2, got
        # SELECTED-DELAYED lets the expunge through in IDLE (a command that
        # allows it).
        a.send("i3 IDLE\r\n")
        assert a.response().startswith(b"+")
        b.ok('SELECT "two"')
        b.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        b.ok("EXPUNGE")
        got = wait_for(a, lambda r: r.endswith(b"EXPUNGE"))
        assert untagged_of(got, "EXPUNGE") == [b"* 1 EXPUNGE"], got
        a.send("DONE\r\n")
        _, tagged = a.read_until_tagged("i3")
        assert tagged.startswith("i3 OK"), tagged
    finally:
        a.logout()
        b.logout()


@t
def message_new_fetch_att(f):
    user = f.user()
    a, b = f.conn(user), f.conn(user)
    try:
        select(a)
        # 5.2: MessageNew's fetch-att come as a FETCH after EXISTS.
        a.ok("NOTIFY SET (selected (MessageNew (UID FLAGS BODY.PEEK[HEADER.FIELDS (Subject)]) MessageExpunge))")
        append(b, "INBOX", "told with its subject")
        got = wait_for(a, lambda r: b"FETCH" in r)
        assert untagged_of(got, "EXISTS") == [b"* 1 EXISTS"], got
        fs = fetches(got)
        hdr = {k.upper(): v for k, v in fs[1].items()}["BODY[HEADER.FIELDS (SUBJECT)]"]
        assert fs[1]["UID"] == "1" and hdr == b"Subject: told with its subject\r\n\r\n", fs
        # Recent for this read-write IMAP4rev1 session, which was told first
        # (RFC 3501 2.3.2), as a FETCH FLAGS would show it.
        assert [x.upper() for x in fs[1]["FLAGS"]] == ["\\RECENT"], fs
        # During IDLE too.
        a.send("i2 IDLE\r\n")
        assert a.response().startswith(b"+")
        append(b, "INBOX", "second")
        got = wait_for(a, lambda r: b"FETCH" in r)
        assert untagged_of(got, "EXISTS") == [b"* 2 EXISTS"] and b"Subject: second" in got[-1], got
        a.send("DONE\r\n")
        _, tagged = a.read_until_tagged("i2")
        assert tagged.startswith("i2 OK"), tagged
        # Messages that came while a command ran: with the EXISTS before
        # its tagged reply (here A's own APPEND, held at its literal).
        held = message(subject="third")
        held = held if isinstance(held, bytes) else held.encode()
        a.send('ap APPEND INBOX {%d}\r\n' % len(held))
        assert a.response().startswith(b"+")
        append(b, "INBOX", "fourth")
        a.send(held + b"\r\n")
        u, tagged = a.read_until_tagged("ap")
        assert tagged.startswith("ap OK"), tagged
        fs = fetches(u)
        assert untagged_of(u, "EXISTS")[-1] == b"* 4 EXISTS" and sorted(fs) == [3, 4], u
        subjects = sorted(v for f in fs.values() for k, v in f.items() if k.upper().startswith("BODY["))
        assert subjects == [b"Subject: fourth\r\n\r\n", b"Subject: third\r\n\r\n"], fs
        # Telling is not reading: no \Seen.
        fs = fetches(a.ok("FETCH 1:4 (FLAGS)"))
        assert all("\\Seen" not in fs[n]["FLAGS"] for n in fs), fs
    finally:
        a.logout()
        b.logout()


@t
def mailbox_names_and_subscriptions(f):
    user = f.user()
    a, b = f.conn(user), f.conn(user)
    try:
        a.ok("NOTIFY SET (personal (MailboxName SubscriptionChange))")
        b.ok('CREATE "fresh"')
        got = wait_for(a, lambda r: r.startswith(b"* LIST"))
        e = list_entries(got)
        assert "fresh" in e and "\\NONEXISTENT" not in e["fresh"][0] and e["fresh"][1] in ("/", b"/"), got
        b.ok('SUBSCRIBE "fresh"')
        got = wait_for(a, lambda r: r.startswith(b"* LIST"))
        assert "\\SUBSCRIBED" in list_entries(got)["fresh"][0], got
        b.ok('UNSUBSCRIBE "fresh"')
        got = wait_for(a, lambda r: r.startswith(b"* LIST"))
        assert list_entries(got)["fresh"][0] == set(), got
        b.ok('RENAME "fresh" "renamed"')
        got = wait_for(a, lambda r: b"renamed" in r)
        got += wait_for(a, lambda r: b"fresh" in r) if not any(b"fresh" in r for r in got) else []
        e = list_entries(got)
        assert "\\NONEXISTENT" in e["fresh"][0] and "\\NONEXISTENT" not in e["renamed"][0], got
        # RFC 5465 5.4's example: the new name carries OLDNAME.
        assert e["renamed"][2] == [[b"OLDNAME", ["fresh"]]], got
        b.ok('DELETE "renamed"')
        got = wait_for(a, lambda r: r.startswith(b"* LIST"))
        assert "\\NONEXISTENT" in list_entries(got)["renamed"][0], got
    finally:
        a.logout()
        b.logout()


@t
def metadata_changes(f):
    user = f.user()
    a, b = f.conn(user), f.conn(user)
    try:
        b.ok('CREATE "meta"')
        a.ok("NOTIFY SET (mailboxes meta (MailboxMetadataChange)) (personal (ServerMetadataChange))")
        # RFC 5465 5.7 with RFC 5464 4.4.2's unsolicited form: the names.
        # (One response or two: the second entry may be told apart.)
        b.ok('SETMETADATA meta (/private/comment "x" /shared/comment "y")')
        seen = []

        def both(r):
            if r.startswith(b"* METADATA meta "):
                seen.extend(r[len(b"* METADATA meta "):].split(b" "))
            return len(seen) >= 2
        got = wait_for(a, both)
        assert seen == [b"/private/comment", b"/shared/comment"], got
        # 5.8: the server's entries.
        b.ok('SETMETADATA "" (/shared/admin "mailto:x@example.test")')
        got = wait_for(a, lambda r: r.startswith(b"* METADATA"))
        assert got[-1] == b'* METADATA "" /shared/admin', got
        # INBOX is not watched for metadata.
        b.ok('SETMETADATA INBOX (/private/comment "z")')
        quiet(a)
    finally:
        a.logout()
        b.logout()


@t
def errors(f):
    user = f.user()
    a = f.conn(user)
    try:
        # 5.9: events Tern does not report; the code lists those it does.
        for ev in ("AnnotationChange", "XSomething"):
            _, tagged = a.cmd("NOTIFY SET (personal (MessageNew MessageExpunge %s))" % ev)
            m = re.search(r" NO \[BADEVENT \(([^)]*)\)\]", tagged)
            assert m and "MessageNew" in m.group(1).split() and ev not in m.group(1), tagged
        # Section 5: MessageNew without MessageExpunge, FlagChange alone,
        # two selected groups, fetch-att outside the selected group.
        for bad in ("NOTIFY SET (selected (MessageNew))",
                    "NOTIFY SET (selected (FlagChange))",
                    "NOTIFY SET (selected NONE) (selected-delayed NONE)",
                    "NOTIFY SET (personal (MessageNew (UID) MessageExpunge))",
                    "NOTIFY SET (selected (MessageNew (NOSUCHITEM) MessageExpunge))",
                    "NOTIFY SET",
                    "NOTIFY SET STATUS",
                    "NOTIFY SET (nowhere (MessageNew))",
                    "NOTIFY SET (subtree (MessageNew))",
                    "NOTIFY SET (personal ())",
                    "NOTIFY START",
                    "NOTIFY NONE extra"):
            _, tagged = a.cmd(bad)
            assert " BAD " in tagged, (bad, tagged)
        # Our bound on names (IMAP_NOTIFY_NAMES_MAX = 100): NO [LIMIT].
        names = " ".join("m%d" % i for i in range(101))
        _, tagged = a.cmd("NOTIFY SET (mailboxes (%s) (MessageNew))" % names)
        assert " NO [LIMIT]" in tagged, tagged
        a.ok("NOTIFY SET (mailboxes (%s) (MessageNew))" % " ".join("m%d" % i for i in range(100)))
        # A valid fetch-att is accepted.
        a.ok("NOTIFY SET (selected (MessageNew (UID FLAGS) MessageExpunge))")
    finally:
        a.logout()


@t
def overflow_turns_notify_off(f):
    user = f.user()
    a, b = f.conn(user), f.conn(user)
    try:
        a.ok("NOTIFY SET (personal (MailboxName))")
        # A command in progress holds the notifications: an APPEND waiting
        # for its literal.
        held = message(subject="held")
        held = held if isinstance(held, bytes) else held.encode()
        a.send('ap APPEND INBOX {%d}\r\n' % len(held))
        assert a.response().startswith(b"+")
        for i in range(300):
            b.ok('CREATE "flood%d"' % i)
        a.send(held + b"\r\n")
        u, tagged = a.read_until_tagged("ap")
        assert tagged.startswith("ap OK"), tagged
        # 5.8: NOTIFICATIONOVERFLOW, then as if NOTIFY NONE.
        got = wait_for(a, lambda r: b"NOTIFICATIONOVERFLOW" in r)
        assert got[-1].startswith(b"* OK [NOTIFICATIONOVERFLOW]"), got
        assert not untagged_of(got, "LIST"), got
        b.ok('CREATE "after"')
        quiet(a)
    finally:
        a.logout()
        b.logout()


run()
