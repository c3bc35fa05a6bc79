"""End-to-end tests of the IMAP defects that Dovecot's imaptest and real
clients found (issue 10): each case reproduces one defect with a raw
client, and its expected answer comes from the RFC named in the case.

  - ESEARCH UID sets hold exactly the matching UIDs (RFC 4731 3.1, RFC 9051 9)
  - keywords are announced with FLAGS / PERMANENTFLAGS before any FETCH
    shows them (RFC 3501 7.2.6, RFC 9051 7.3.5)
  - \\Recent (RFC 3501 2.3.2, 6.3.1, 6.3.10, 6.4.4, 7.3.2)
  - SENTBEFORE / SENTON / SENTSINCE compare the Date header's date as
    written (RFC 3501 6.4.4)
  - FROM / TO / CC / BCC match the address as the ENVELOPE has it
    (RFC 3501 6.4.4)
  - flags are atoms, and NIL is one (RFC 3501 9)
  - a mailbox name that is not validly encoded gets NO, not BAD
  - the first CONDSTORE-enabling command's OK carries HIGHESTMODSEQ
    (RFC 7162 3.1)
  - tags of any length come back whole (RFC 3501 2.2.1)
  - a message expunged elsewhere stays readable until the session is
    told (RFC 2180 4.1, RFC 5530 EXPUNGEISSUED)"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Suite  # noqa: E402
from imapcheck import (  # noqa: E402
    Lit, esearch, fetches, search_numbers, select, shared_suite, status_of, untagged_of)
from mailcheck import message  # noqa: E402

suite = Suite()
t, run = shared_suite(suite)


def append(c, mailbox, msg, flags=None):
    pieces = ['APPEND "%s" ' % mailbox] + (["(%s) " % flags] if flags else []) + [Lit(msg)]
    untagged, tagged, sent = c.cmd_literals(pieces)
    m = re.search(r"\[APPENDUID (\d+) (\d+)\]", tagged)
    assert sent and m, tagged
    return int(m.group(2))


def fill(c, n, mailbox="INBOX"):
    return [append(c, mailbox, message(subject="msg %d" % i)) for i in range(n)]


@t
def esearch_uid_set_after_move(f):
    """RFC 4731 3.1 / RFC 9051 9: after UID MOVE 2 out of UIDs 1, 2, 3 the
    UID set of the remaining messages is "1,3": "1:3" would claim UID 2."""
    user = f.user()
    c = f.conn(user)
    try:
        c.ok("CREATE Other")
        assert fill(c, 3) == [1, 2, 3]
        select(c)
        c.ok("UID MOVE 2 Other")
        tag, uid, items = esearch(c.ok("UID SEARCH RETURN (ALL) ALL"))
        assert uid and items["ALL"] == "1,3", items
        # sequence numbers 1 and 2 are a run of sequence numbers
        tag, uid, items = esearch(c.ok("SEARCH RETURN (ALL) ALL"))
        assert not uid and items["ALL"] == "1:2", items
        # the imaptest case: 1:3 and 5:7 left of 1..7
        c.ok("CREATE Second")
        c.ok("SELECT Second")
        fill(c, 7, "Second")
        c.ok("NOOP")
        c.ok("UID MOVE 4 Other")
        tag, uid, items = esearch(c.ok("UID SEARCH RETURN (ALL) ALL"))
        assert items["ALL"] == "1:3,5:7", items
    finally:
        c.logout()


@t
def long_tags_come_back_whole(f):
    """RFC 3501 2.2.1 / 9: a tag is any number of ASTRING-CHARs; the tagged
    reply (and ESEARCH's TAG) repeat it whole, or the client never sees its
    command complete.  Tern copied tags into a 128-byte buffer."""
    user = f.user()
    c = f.conn(user)
    try:
        for n in (127, 128, 200, 5000, 20000):
            tag = ("T%d." % n) + "x" * (n - len("T%d." % n))
            assert len(tag) == n
            untagged, tagged = c.cmd("NOOP", tag=tag)
            assert tagged.startswith(tag + " OK"), tagged[:60]
        fill(c, 2)
        select(c)
        tag = "s" * 300
        untagged, tagged = c.cmd("SEARCH RETURN (COUNT) ALL", tag=tag)
        assert tagged.startswith(tag + " OK"), tagged[:60]
        assert untagged_of(untagged, "ESEARCH") == [b'* ESEARCH (TAG "%s") COUNT 2' % tag.encode()], untagged
        # a BAD for a command the parser refuses carries the whole tag too
        tag = "b" * 1000
        untagged, tagged = c.cmd("FETCH 1 (FLAGS", tag=tag)
        assert tagged.startswith(tag + " BAD"), tagged[:60]
        c.ok("NOOP")
    finally:
        c.logout()


@t
def nil_is_an_atom_and_spaces_are_lenient(f):
    """RFC 3501 9: flag-keyword = atom, and NIL is an atom: STORE 1 +FLAGS
    NIL sets a keyword NIL (Dovecot does; imaptest's "nil" script expects
    OK).  Extra spaces between arguments and at the end of the line are
    taken as Dovecot takes them."""
    user = f.user()
    c = f.conn(user)
    try:
        fill(c, 2)
        select(c)
        c.ok("STORE 1 +FLAGS NIL")
        # (the test parser reads the atom NIL as None)
        assert untagged_of(c.ok("FETCH 1 FLAGS"), "FETCH") == [b"* 1 FETCH (FLAGS (\\Recent NIL))"]
        assert search_numbers(c.ok("SEARCH KEYWORD NIL")) == [1]
        assert search_numbers(c.ok("SEARCH UNKEYWORD nil")) == [2]
        c.ok("STORE 2 +FLAGS.SILENT (NIL \\Seen)")
        assert untagged_of(c.ok("FETCH 2 FLAGS"), "FETCH") == [b"* 2 FETCH (FLAGS (\\Recent \\Seen NIL))"]
        c.ok("STORE 1:2 -FLAGS NIL")
        assert search_numbers(c.ok("SEARCH KEYWORD NIL")) == []
        # a trailing space, two spaces, a space before ")"
        c.ok("NOOP ")
        assert fetches(c.ok("FETCH 1  (FLAGS UID )"))[1]["UID"] == "1"
        c.ok("SEARCH ALL  ")
    finally:
        c.logout()


@t
def invalid_mailbox_names_get_no(f):
    """A name that is neither valid modified UTF-7 (RFC 3501 5.1.3) nor, for
    a UTF-8 client, valid UTF-8 is a name no mailbox has: NO, not BAD (a
    syntax error that counts toward the error limit), and the session goes
    on (imaptest "atoms").  A LIST pattern like it matches nothing."""
    user = f.user()
    c = f.conn(user)
    bad = "!#$&'+,-.0123456789:;<=>?@^_`|[}"
    try:
        fill(c, 1)
        for cmd in ("SELECT %s" % bad, "EXAMINE %s" % bad, "CREATE %s" % bad, "DELETE %s" % bad,
                    "STATUS %s (MESSAGES)" % bad, 'SELECT "&Jjo"', 'RENAME INBOX "&Jjo"'):
            untagged, tagged = c.cmd(cmd)
            assert " NO " in tagged, (cmd, tagged)
        assert c.ok('LIST "" %s%%*' % bad) == []
        assert c.ok('LIST "" "&Jjo*"') == []
        untagged, tagged, sent = c.cmd_literals(['APPEND "&Jjo" ', Lit(message())])
        assert " NO " in tagged, tagged
        select(c)
        untagged, tagged = c.cmd('COPY 1 "&Jjo"')
        assert " NO " in tagged, tagged
        # 25 of them: more than the 20 BADs after which the server hangs up
        for _ in range(25):
            untagged, tagged = c.cmd('STATUS "&Jjo" (MESSAGES)')
            assert " NO " in tagged, tagged
        c.ok("NOOP")
    finally:
        c.logout()


@t
def first_condstore_command_reports_highestmodseq(f):
    """RFC 7162 3.1: the first CONDSTORE-enabling command issued while a
    mailbox is selected reports the mailbox's HIGHESTMODSEQ: "* OK
    [HIGHESTMODSEQ n]" before its tagged OK (imaptest "esearch-condstore":
    FETCH 1 MODSEQ, as Dovecot answers); later ones do not."""
    user = f.user()
    for first in ("FETCH 1 (MODSEQ)", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1)", "SEARCH MODSEQ 1",
                  "STATUS INBOX (HIGHESTMODSEQ)", "STORE 1 (UNCHANGEDSINCE 100) +FLAGS.SILENT (\\Seen)"):
        c = f.conn(user)
        try:
            if first.startswith("FETCH"):
                fill(c, 2)
            info = select(c)
            hms = int(info["HIGHESTMODSEQ"])
            untagged, tagged = c.ok_tagged(first)
            ms = [re.match(rb"\* OK \[HIGHESTMODSEQ (\d+)\]", r) for r in untagged]
            ms = [m for m in ms if m]
            assert len(ms) == 1, (first, untagged)
            m = ms[0]
            items = fetches(c.ok("FETCH 1:* (MODSEQ)"))
            assert int(m.group(1)) >= hms and int(m.group(1)) == max(int(v["MODSEQ"][0]) for v in items.values()), \
                (tagged, items)
            untagged, tagged = c.ok_tagged(first)
            assert not any(b"[HIGHESTMODSEQ" in r for r in untagged), untagged
        finally:
            c.logout()
    # not selected: nothing to report
    c = f.conn(user)
    try:
        untagged, tagged = c.ok_tagged("STATUS INBOX (HIGHESTMODSEQ)")
        assert not any(b"[HIGHESTMODSEQ" in r for r in untagged), untagged
    finally:
        c.logout()


@t
def search_from_matches_the_envelope_address(f):
    """RFC 3501 6.4.4: FROM "contains the specified string in the envelope
    structure's FROM field".  An address written with comments inside it
    is, in the ENVELOPE, just mailbox@host: SEARCH FROM mailbox@host must
    find it (imaptest search-addresses), as well as display names."""
    user = f.user()
    c = f.conn(user)
    try:
        heads = [
            "From: ann@example.org\r\nTo: bob@example.org\r\n",
            "From: Ann Other <ann@example.org>\r\nTo: \"Bob\" <bob@example.org>\r\n",
            "From: <ann (the first)@ (at) example.org>\r\nTo: <bob@example.org>\r\n",
            "From: ann@example.org (Ann Other)\r\nCc: =?UTF-8?Q?B=C3=B6b?= <bob@example.org>\r\n",
            "From: carl@example.org\r\nTo: team: bob@example.org;\r\n",
        ]
        for h in heads:
            append(c, "INBOX", (h + "Subject: x\r\n\r\nbody\r\n").encode())
        select(c)
        assert search_numbers(c.ok("SEARCH FROM ann@example.org")) == [1, 2, 3, 4]
        assert search_numbers(c.ok("SEARCH FROM nn@exam")) == [1, 2, 3, 4]
        assert search_numbers(c.ok('SEARCH FROM "ann other"')) == [2, 4]
        assert search_numbers(c.ok("SEARCH TO bob@example.org")) == [1, 2, 3, 5]
        assert search_numbers(c.ok("SEARCH CC bob@example.org")) == [4]
        assert search_numbers(c.ok(b'SEARCH CHARSET UTF-8 CC "b\xc3\xb6b <bob@"')) == [4]
        assert search_numbers(c.ok("SEARCH NOT FROM ann@example.org")) == [5]
        # HEADER searches the field as written, not the addresses
        assert search_numbers(c.ok('SEARCH HEADER From "ann@example.org"')) == [1, 2, 4]
    finally:
        c.logout()


@t
def sent_dates_compare_the_date_as_written(f):
    """RFC 3501 6.4.4: SENTBEFORE / SENTON / SENTSINCE compare the Date
    header's date "disregarding time and timezone": the day as written,
    not the day in UTC (imaptest search-date)."""
    user = f.user()
    c = f.conn(user)
    try:
        dates = ["Fri, 23 Mar 2007 22:00:00 -0500",   # 24 Mar 03:00 UTC
                 "Sat, 24 Mar 2007 23:00:00 +0200",   # 24 Mar 21:00 UTC
                 "Sun, 25 Mar 2007 00:00:00 +0200",   # 24 Mar 22:00 UTC
                 "Sun, 25 Mar 2007 23:30:00 +0300",   # 25 Mar 20:30 UTC
                 "Mon, 26 Mar 2007 00:30:00 +0300"]   # 25 Mar 21:30 UTC
        for d in dates:
            append(c, "INBOX", ("From: a@example.org\r\nDate: %s\r\nSubject: d\r\n\r\nx\r\n" % d).encode())
        select(c)
        assert search_numbers(c.ok("SEARCH SENTON 23-Mar-2007")) == [1]
        assert search_numbers(c.ok("SEARCH SENTON 24-Mar-2007")) == [2]
        assert search_numbers(c.ok("SEARCH SENTON 25-Mar-2007")) == [3, 4]
        assert search_numbers(c.ok("SEARCH SENTON 26-Mar-2007")) == [5]
        assert search_numbers(c.ok("SEARCH SENTBEFORE 25-Mar-2007")) == [1, 2]
        assert search_numbers(c.ok("SEARCH SENTSINCE 25-Mar-2007")) == [3, 4, 5]
        assert search_numbers(c.ok("SEARCH NOT SENTON 25-Mar-2007")) == [1, 2, 5]
    finally:
        c.logout()


def flags_of(untagged):
    """The keywords of the last '* FLAGS (...)' in untagged, and its index."""
    idx, kws = None, None
    for i, r in enumerate(untagged):
        if r.startswith(b"* FLAGS ("):
            idx, kws = i, set(r[len(b"* FLAGS ("):-1].decode().split())
    return idx, kws


def announced_before_fetch(untagged, keyword):
    """True when a FLAGS response naming keyword (and a PERMANENTFLAGS one)
    comes before the first FETCH that shows it."""
    for i, r in enumerate(untagged):
        if r.startswith(b"* FLAGS (") and keyword.encode() in r.split(b"(", 1)[1]:
            perm = [x for x in untagged[i + 1:] if b"[PERMANENTFLAGS (" in x]
            return bool(perm) and keyword.encode() in perm[0]
        if b" FETCH " in r and keyword.encode() in r:
            return False
    return False


@t
def new_keywords_are_announced(f):
    """RFC 3501 7.2.6 / RFC 9051 7.3.5: the FLAGS response lists the flags
    a client may see; a STORE or APPEND that brings a keyword new to the
    mailbox must be followed by FLAGS (and OK [PERMANENTFLAGS]) in every
    session that has it selected, before any FETCH shows the keyword -
    the session that did it included (imaptest: "Keyword used without
    being in FLAGS")."""
    user = f.user()
    a = f.conn(user)
    b = f.conn(user)
    try:
        fill(a, 2)
        ia = select(a)
        assert ia["FLAGS"] == ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"], ia["FLAGS"]
        select(b)
        # the session that stores it: FLAGS before its own FETCH
        got = b.ok("STORE 1 +FLAGS ($Alpha)")
        assert announced_before_fetch(got, "$Alpha"), got
        # silent: still announced (later FETCHes show it)
        got = b.ok("STORE 2 +FLAGS.SILENT (Beta)")
        assert flags_of(got)[1] >= {"$Alpha", "Beta"}, got
        # the other session: FLAGS before the FETCH of the change
        got = a.ok("NOOP")
        assert announced_before_fetch(got, "$Alpha") and announced_before_fetch(got, "Beta"), got
        # a FETCH that sees a change before the session synced
        b.ok("STORE 1 +FLAGS (Gamma)")
        got = a.ok("FETCH 1 (FLAGS)")
        assert announced_before_fetch(got, "Gamma"), got
        # APPEND with a new keyword: every session that has it selected
        got, tagged, sent = b.cmd_literals(['APPEND INBOX ($Delta) ', Lit(message(subject="kw"))])
        assert " OK " in tagged and flags_of(got)[0] is not None and "$Delta" in flags_of(got)[1], got
        got = a.ok("NOOP")
        idx, kws = flags_of(got)
        assert idx is not None and "$Delta" in kws, got
        assert a.ok("FETCH 3 (FLAGS)") and "$Delta" in str(fetches(a.ok("FETCH 3 (FLAGS)"))[3]["FLAGS"])
        # a session SELECTing later gets them all in its first FLAGS
        c = f.conn(user)
        ic = select(c)
        assert {"$Alpha", "Beta", "Gamma", "$Delta"} <= set(ic["FLAGS"]), ic["FLAGS"]
        # nothing new: no FLAGS again
        got = a.ok("STORE 2 +FLAGS ($Alpha)")
        assert flags_of(got)[0] is None, got
        c.logout()
        # read-only: PERMANENTFLAGS ()
        e = f.conn(user)
        e.ok("EXAMINE INBOX")
        b.ok("STORE 2 +FLAGS (Epsilon)")
        got = e.ok("NOOP")
        assert b"* OK [PERMANENTFLAGS ()] Read-only mailbox" in got and flags_of(got)[1] >= {"Epsilon"}, got
        assert flags_of(got)[0] < [i for i, r in enumerate(got) if b"Epsilon" in r and b"FETCH" in r][0], got
        e.logout()
    finally:
        a.logout()
        b.logout()


def recent_count(untagged):
    for r in untagged:
        m = re.match(rb"\* (\d+) RECENT$", r)
        if m:
            return int(m.group(1))
    return None


def recent_flags(c, set_="1:*"):
    """{seq: True/False} whether each message's FLAGS holds \\Recent."""
    return {seq: "\\Recent" in items["FLAGS"] for seq, items in fetches(c.ok("FETCH %s (FLAGS)" % set_)).items()}


@t
def recent_is_kept(f):
    """RFC 3501 2.3.2: \\Recent is set for "the first session to have been
    notified about this message"; a read-write session that saw it takes it
    from later sessions, a read-only one (EXAMINE) does not.  6.3.1/6.3.2:
    SELECT and EXAMINE send "* n RECENT"; 7.3.2: RECENT follows new mail;
    6.3.10: STATUS (RECENT); 6.4.4: RECENT, NEW (RECENT UNSEEN), OLD."""
    user = f.user()
    a = f.conn(user)
    b = f.conn(user)
    try:
        a.ok("CREATE Box")
        append(a, "Box", message(subject="one"))
        append(a, "Box", message(subject="two"))
        # read-only first: sees them recent and leaves them so
        got = a.ok("EXAMINE Box")
        assert recent_count(got) == 2, got
        assert recent_flags(a) == {1: True, 2: True}
        assert search_numbers(a.ok("SEARCH RECENT")) == [1, 2]
        a.ok("CLOSE")
        assert status_of(a.ok("STATUS Box (RECENT MESSAGES)"))["Box"] == {"RECENT": 2, "MESSAGES": 2}
        # the first read-write session takes them
        got = a.ok("SELECT Box")
        assert recent_count(got) == 2, got
        assert recent_flags(a) == {1: True, 2: True}
        got = b.ok("SELECT Box")
        assert recent_count(got) == 0, got
        assert recent_flags(b) == {1: False, 2: False}
        assert status_of(b.ok("STATUS Box (RECENT)"))["Box"]["RECENT"] == 0
        # new mail (from a session without Box selected): the session told
        # first has it recent, the other not
        c = f.conn(user)
        append(c, "Box", message(subject="three"))
        c.logout()
        got = a.ok("NOOP")
        assert b"* 3 EXISTS" in got and recent_count(got) == 3, got
        assert got.index(b"* 3 EXISTS") < got.index(b"* 3 RECENT"), got
        got = b.ok("NOOP")
        assert recent_count(got) == 0, got
        assert recent_flags(a) == {1: True, 2: True, 3: True}
        assert recent_flags(b) == {1: False, 2: False, 3: False}
        assert search_numbers(b.ok("SEARCH RECENT")) == []
        assert search_numbers(b.ok("SEARCH OLD")) == [1, 2, 3]
        # NEW is RECENT UNSEEN
        a.ok("STORE 1 +FLAGS (\\Seen)")
        assert search_numbers(a.ok("SEARCH NEW")) == [2, 3]
        assert search_numbers(a.ok("SEARCH OLD")) == []
        assert search_numbers(a.ok("SEARCH NOT RECENT")) == []
        # \\Recent cannot be stored (RFC 3501 2.3.2), and STORE's FETCH shows it
        untagged, tagged = a.cmd("STORE 2 +FLAGS (\\Recent)")
        assert " BAD " in tagged, tagged
        got = a.ok("STORE 2 +FLAGS (\\Flagged)")
        assert "\\Recent" in fetches(got)[2]["FLAGS"], got
        # an expunged recent message leaves the count
        a.ok("STORE 3 +FLAGS (\\Deleted)")
        a.ok("EXPUNGE")
        assert search_numbers(a.ok("SEARCH RECENT")) == [1, 2]
        # the session that APPENDs to its selected mailbox is told first
        got, tagged, sent = b.cmd_literals(["APPEND Box ", Lit(message(subject="four"))])
        assert recent_count(got) == 1, got
        assert recent_count(a.ok("NOOP")) == 2
        # gone for good: a new SELECT finds nothing recent
        a.ok("CLOSE")
        got = a.ok("SELECT Box")
        assert recent_count(got) == 0, got
    finally:
        a.logout()
        b.logout()


@t
def imap4rev2_sessions_have_no_recent(f):
    """RFC 9051 removed \\Recent: a session that ENABLEs IMAP4rev2 gets no
    RECENT response and no \\Recent flag, and takes nothing from rev1
    sessions, which still see the messages recent."""
    user = f.user()
    a = f.conn(user)
    try:
        fill(a, 2)
        a.ok("ENABLE IMAP4rev2")
        got = a.ok("SELECT INBOX")
        assert recent_count(got) is None, got
        assert recent_flags(a) == {1: False, 2: False}
        append(a, "INBOX", message(subject="new"))
        got = a.ok("NOOP")
        assert recent_count(got) is None, got
        assert untagged_of(a.ok("STATUS INBOX (MESSAGES)"), "STATUS")
        untagged, tagged = a.cmd("STATUS INBOX (RECENT)")
        assert " BAD " in tagged, tagged
    finally:
        a.logout()
    b = f.conn(user)
    try:
        got = b.ok("SELECT INBOX")
        assert recent_count(got) == 3, got
        assert recent_flags(b) == {1: True, 2: True, 3: True}
    finally:
        b.logout()


@t
def expunged_elsewhere_is_not_a_server_bug(f):
    """RFC 9051 7.5.1: expunges are not told during FETCH, STORE or SEARCH,
    so a session may ask for a message another session expunged.  What it
    can still read it gets; what is gone is left out, and the OK carries
    EXPUNGEISSUED (RFC 5530; RFC 2180 4.1.2) - never NO [SERVERBUG]."""
    user = f.user()
    a = f.conn(user)
    b = f.conn(user)
    try:
        fill(a, 4)
        select(a)
        select(b)
        b.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
        b.ok("EXPUNGE")
        for cmd in ("FETCH 1:4 (FLAGS)", "FETCH 1:4 (BODY.PEEK[])", "FETCH 2 (BODY[] ENVELOPE)",
                    "FETCH 1:4 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])", "STORE 2 +FLAGS (\\Flagged)",
                    "SEARCH SUBJECT msg"):
            untagged, tagged = a.cmd(cmd)
            assert re.match(r"t\d+ OK \[EXPUNGEISSUED\]", tagged), (cmd, tagged)
            assert not any(r.endswith(b"EXPUNGE") for r in untagged), (cmd, untagged)
            fs = fetches(untagged)
            assert 2 not in fs or set(fs[2]) <= {"FLAGS", "UID"}, (cmd, fs)
        fs = fetches(a.ok("FETCH 1:4 (BODY.PEEK[])"))
        assert sorted(fs) == [1, 3, 4], fs
        # the next command that may tell of it does; then the OKs are plain
        got = a.ok("NOOP")
        assert got == [b"* 2 EXPUNGE"], got
        untagged, tagged = a.cmd("FETCH 1:3 (FLAGS)")
        assert "EXPUNGEISSUED" not in tagged and len(fetches(untagged)) == 3, (tagged, untagged)
    finally:
        a.logout()
        b.logout()


run()
