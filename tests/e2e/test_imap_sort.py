"""End-to-end tests of SORT (RFC 5256 3) with SORT=DISPLAY (RFC 5957),
ESORT (RFC 5267 3) and THREAD=ORDEREDSUBJECT / THREAD=REFERENCES (RFC
5256 3, 4), over raw sockets.  Every expected answer is worked out by hand
from the RFCs (the reasoning is next to each): base subjects (2.1), sent
dates in UTC with the internal date for a message without Date (2.2),
the first address's mailbox or display name, i;ascii-casemap ("a" < "B" <
"[" < "_" < any 8-bit octet), ties by sequence number.

Cross-checked against Dovecot 2.3.19 (its imap binary fed the same
messages and commands): every answer is the same except DISPLAYFROM, where
Dovecot, which announces I18NLEVEL=1 and so sorts with i;unicode-casemap
(RFC 5255), folds "\u00c9ve" to "EVE" and answers 2 4 3 1; without I18NLEVEL
RFC 5256's i;ascii-casemap applies and 8-bit octets sort last."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Suite  # noqa: E402
from imapcheck import Lit, select, shared_suite  # noqa: E402

suite = Suite()
t, run = shared_suite(suite)


def append(c, msg, date):
    u, tagged, sent = c.cmd_literals(['APPEND INBOX "%s" ' % date, Lit(msg.encode())])
    assert sent and re.match(r"t\d+ OK", tagged), tagged


def answer(c, cmd, kind):
    """The one untagged response of kind (SORT, THREAD, ESEARCH) to cmd, as str."""
    untagged = c.ok(cmd)
    lines = [r.decode() for r in untagged if r.upper().startswith(b"* " + kind.encode() + b" ")
             or r.upper() == b"* " + kind.encode()]
    assert len(lines) == 1, (cmd, untagged)
    return lines[0]


def sort(c, args, uid=False):
    r = answer(c, ("UID " if uid else "") + "SORT " + args, "SORT")
    return [int(x) for x in r.split()[2:]]


def thread(c, args, uid=False):
    r = answer(c, ("UID " if uid else "") + "THREAD " + args, "THREAD")
    return r[len("* THREAD "):]


def gone_first(c):
    """Appends a message and expunges it, so UIDs are sequence numbers + 1."""
    append(c, "Subject: gone\r\n\r\nx\r\n", "01-Jan-2020 00:00:00 +0000")
    select(c)
    c.ok("STORE 1 +FLAGS (\\Deleted)")
    c.ok("EXPUNGE")


# Four messages chosen so that each key orders them differently.
SORT_MSGS = [
    # 1: sent 2024-01-02 01:00 UTC
    ("From: \"Zed\" <adam@a.org>\r\nTo: bob@b.org\r\nCc: carl@c.org\r\nSubject: Re: beta\r\n"
     "Date: Tue, 02 Jan 2024 01:00:00 +0000\r\n\r\na\r\n", "05-Jan-2024 00:00:00 +0000"),
    # 2: sent 2024-01-02 00:00 UTC (02:00 at +0200)
    ("From: \"Amy\" <zoe@z.org>\r\nTo: \"Xavier\" <al@a.org>\r\nSubject: alpha\r\n"
     "Date: Tue, 02 Jan 2024 02:00:00 +0200\r\n\r\n" + "b" * 2000 + "\r\n", "03-Jan-2024 00:00:00 +0000"),
    # 3: no Date: the internal date, 2024-01-01 00:00 UTC
    ("From: mike@m.org\r\nSubject: [list] Gamma (fwd)\r\n\r\n" + "c" * 3000 + "\r\n",
     "01-Jan-2024 00:00:00 +0000"),
    # 4: sent 2024-01-01 17:00 UTC (12:00 at -0500)
    ("From: =?utf-8?q?=C3=89ve?= <eve@e.org>\r\nTo: dan@d.org\r\nSubject: ALPHA\r\n"
     "Date: Mon, 01 Jan 2024 12:00:00 -0500\r\n\r\n" + "d" * 1000 + "\r\n", "04-Jan-2024 00:00:00 +0000"),
]


def sort_box(f, user=None):
    c = f.conn(user or f.user())
    gone_first(c)
    for msg, date in SORT_MSGS:
        append(c, msg, date)
    select(c)
    return c


@t
def sort_each_key(f):
    c = sort_box(f)
    caps = answer(c, "CAPABILITY", "CAPABILITY").upper().split()
    for cap in ("SORT", "SORT=DISPLAY", "ESORT", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES"):
        assert cap in caps, (cap, caps)
    # base subjects: beta, alpha, Gamma, ALPHA; alpha = ALPHA, then by number
    assert sort(c, "(SUBJECT) UTF-8 ALL") == [2, 4, 1, 3]
    assert sort(c, "(REVERSE SUBJECT) UTF-8 ALL") == [3, 1, 2, 4]
    # sent dates in UTC: 3 (Jan 1 00:00, internal), 4 (Jan 1 17:00), 2 (Jan 2 00:00), 1 (Jan 2 01:00)
    assert sort(c, "(DATE) UTF-8 ALL") == [3, 4, 2, 1]
    assert sort(c, "(REVERSE DATE) US-ASCII ALL") == [1, 2, 4, 3]
    # internal dates: Jan 1, 3, 4, 5
    assert sort(c, "(ARRIVAL) UTF-8 ALL") == [3, 2, 4, 1]
    # first From mailbox: adam, zoe, mike, eve
    assert sort(c, "(FROM) UTF-8 ALL") == [1, 4, 3, 2]
    # display: Zed, Amy, mike@m.org, \xc3\x89ve (8-bit sorts after ASCII letters)
    assert sort(c, "(DISPLAYFROM) UTF-8 ALL") == [2, 3, 1, 4]
    # To mailbox: bob, al, none (""), dan
    assert sort(c, "(TO) UTF-8 ALL") == [3, 2, 1, 4]
    # To display: bob@b.org, Xavier, "", dan@d.org
    assert sort(c, "(DISPLAYTO) UTF-8 ALL") == [3, 1, 4, 2]
    assert sort(c, "(REVERSE DISPLAYTO) UTF-8 ALL") == [2, 4, 1, 3]
    # Cc: only 1 has one; the others tie on "" and keep their order
    assert sort(c, "(CC) UTF-8 ALL") == [2, 3, 4, 1]
    assert sort(c, "(SIZE) UTF-8 ALL") == [1, 4, 2, 3]
    # alpha/ALPHA tie broken by the second key: arrival 2 (Jan 3) < 4 (Jan 4)
    assert sort(c, "(SUBJECT REVERSE ARRIVAL) UTF-8 ALL") == [4, 2, 1, 3]
    # UIDs are sequence numbers + 1
    assert sort(c, "(SIZE) UTF-8 ALL", uid=True) == [2, 5, 3, 4]
    c.logout()


@t
def sort_search_criteria(f):
    c = sort_box(f)
    # SEARCH's criteria, SEARCH's matching
    assert sort(c, "(SIZE) UTF-8 FROM eve") == [4]
    assert sort(c, "(DATE) US-ASCII NOT SUBJECT alpha") == [3, 1]
    assert sort(c, "(DATE) UTF-8 OR 1 LARGER 2500") == [3, 1]
    assert sort(c, "(DATE) UTF-8 UID 3:4 SUBJECT ALPHA") == [2]
    assert sort(c, "(DATE) UTF-8 SUBJECT nothing") == []
    assert sort(c, "(ARRIVAL) UTF-8 SUBJECT {5}\r\nalpha") == [2, 4]
    u, tagged = c.cmd("SORT (ARRIVAL) ISO-8859-1 ALL")
    assert re.match(r"t\d+ NO \[BADCHARSET \(UTF-8 US-ASCII\)\]", tagged), tagged
    for bad in ("SORT () UTF-8 ALL", "SORT (FOO) UTF-8 ALL", "SORT (REVERSE) UTF-8 ALL",
                "SORT (REVERSE REVERSE DATE) UTF-8 ALL", "SORT (DATE) UTF-8", "SORT (DATE)",
                "SORT DATE UTF-8 ALL", "SORT (DATE) UTF-8 NOSUCHKEY", "SORT RETURN (SAVE) (DATE) UTF-8 ALL",
                "SORT RETURN (DATE) UTF-8 ALL", "THREAD", "THREAD REFERENCES", "THREAD REFERENCES UTF-8",
                "THREAD NOSUCH UTF-8 ALL", "SORT (" + "DATE " * 17 + ") UTF-8 ALL"):
        u, tagged = c.cmd(bad)
        assert re.match(r"t\d+ BAD", tagged), (bad, tagged)
        assert not [r for r in u if r.startswith(b"* SORT") or r.startswith(b"* THREAD")], (bad, u)
    c.logout()


@t
def sort_expunged_elsewhere(f):
    user = f.user()
    c = sort_box(f, user)
    other = f.conn(user)
    select(other)
    other.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    other.ok("EXPUNGE")
    other.logout()
    # c has not been told yet (no EXPUNGE during SORT, RFC 9051 7.5.1):
    # message 2 is gone from the answers, the others keep their numbers
    assert sort(c, "(ARRIVAL) UTF-8 ALL") == [3, 4, 1]
    assert thread(c, "ORDEREDSUBJECT UTF-8 ALL") == "(3)(4)(1)"  # by sent date: Jan 1 00:00, Jan 1 17:00, Jan 2
    assert sort(c, "(ARRIVAL) UTF-8 ALL", uid=True) == [4, 5, 2]
    c.ok("NOOP")
    assert sort(c, "(ARRIVAL) UTF-8 ALL") == [2, 3, 1]
    c.logout()


@t
def sort_not_selected(f):
    c = f.conn(f.user())
    for cmd in ("SORT (DATE) UTF-8 ALL", "THREAD REFERENCES UTF-8 ALL"):
        u, tagged = c.cmd(cmd)
        assert re.match(r"t\d+ (BAD|NO)", tagged), tagged
    c.logout()


@t
def esort(f):
    c = sort_box(f)
    # RFC 5267 3: MIN and MAX are the first and last in sort order (3 4 2 1),
    # ALL is a sequence set in sort order
    r = answer(c, "SORT RETURN (MIN MAX COUNT) (DATE) UTF-8 ALL", "ESEARCH")
    assert re.match(r'\* ESEARCH \(TAG "t\d+"\) MIN 3 MAX 1 COUNT 4$', r), r
    r = answer(c, "SORT RETURN (ALL) (DATE) UTF-8 ALL", "ESEARCH")
    assert re.match(r'\* ESEARCH \(TAG "t\d+"\) ALL 3:4,2,1$', r), r
    r = answer(c, "SORT RETURN () (REVERSE DATE) UTF-8 ALL", "ESEARCH")
    assert re.match(r'\* ESEARCH \(TAG "t\d+"\) ALL 1:2,4,3$', r), r
    r = answer(c, "UID SORT RETURN (ALL MIN) (DATE) UTF-8 ALL", "ESEARCH")
    assert re.match(r'\* ESEARCH \(TAG "t\d+"\) UID MIN 4 ALL 4:5,3,2$', r), r
    # nothing matched: only COUNT 0 (RFC 4731 3.1)
    r = answer(c, "SORT RETURN (MIN MAX ALL COUNT) (DATE) UTF-8 SUBJECT nothing", "ESEARCH")
    assert re.match(r'\* ESEARCH \(TAG "t\d+"\) COUNT 0$', r), r
    c.logout()


@t
def context_sort(f):
    """CONTEXT=SORT (RFC 5267 4): PARTIAL is a window of the sorted result
    (4.4, RFC 9394 3.1: the range as asked, then the results in it or NIL;
    "-1:-2" counts from the end); CONTEXT is a hint; UPDATE may be declined
    with NOUPDATE, the result answered all the same (4.3.1).  After ENABLE
    UTF8=ACCEPT a charset other than UTF-8 is BAD (RFC 6855 erratum 4029)."""
    c = sort_box(f)
    assert "CONTEXT=SORT" in c.ok("CAPABILITY")[0].decode().split()
    # sort order by DATE is 3 4 2 1
    r = answer(c, "SORT RETURN (PARTIAL 2:3) (DATE) UTF-8 ALL", "ESEARCH")
    assert re.match(r'\* ESEARCH \(TAG "t\d+"\) PARTIAL \(2:3 4,2\)$', r), r
    r = answer(c, "SORT RETURN (PARTIAL 3:2 COUNT) (DATE) UTF-8 ALL", "ESEARCH")
    assert re.match(r'\* ESEARCH \(TAG "t\d+"\) COUNT 4 PARTIAL \(2:3 4,2\)$', r), r
    r = answer(c, "SORT RETURN (PARTIAL -1:-2) (DATE) UTF-8 ALL", "ESEARCH")
    assert re.match(r'\* ESEARCH \(TAG "t\d+"\) PARTIAL \(-1:-2 2,1\)$', r), r
    r = answer(c, "SORT RETURN (PARTIAL 5:9) (DATE) UTF-8 ALL", "ESEARCH")
    assert re.match(r'\* ESEARCH \(TAG "t\d+"\) PARTIAL \(5:9 NIL\)$', r), r
    r = answer(c, "SORT RETURN (CONTEXT MIN) (DATE) UTF-8 ALL", "ESEARCH")
    assert re.match(r'\* ESEARCH \(TAG "t\d+"\) MIN 3$', r), r
    untagged, tagged = c.cmd("SORT RETURN (UPDATE COUNT) (DATE) UTF-8 ALL", tag="U1")
    assert tagged.startswith("U1 OK"), tagged
    assert untagged[0] == b'* ESEARCH (TAG "U1") COUNT 4' and untagged[1].startswith(b'* NO [NOUPDATE "U1"]'), untagged
    for bad in ("SORT RETURN (PARTIAL 1:2 ALL) (DATE) UTF-8 ALL", "SORT RETURN (PARTIAL 1) (DATE) UTF-8 ALL",
                "SORT RETURN (PARTIAL 1:*) (DATE) UTF-8 ALL", "SORT RETURN (PARTIAL) (DATE) UTF-8 ALL"):
        untagged, tagged = c.cmd(bad)
        assert re.match(r"t\d+ BAD", tagged), (bad, tagged)
    c.ok("ENABLE UTF8=ACCEPT")
    for bad in ("SORT (DATE) US-ASCII ALL", "THREAD REFERENCES US-ASCII ALL"):
        untagged, tagged = c.cmd(bad)
        assert re.match(r"t\d+ BAD", tagged), (bad, tagged)
    assert sort(c, "(DATE) UTF-8 ALL") == [3, 4, 2, 1]
    c.logout()


# Threading: Message-ID, References / In-Reply-To, Subject, Date (day n
# of January 2024).
THREAD_MSGS = [
    "Message-ID: <1@x>\r\nSubject: Party\r\nDate: Tue, 02 Jan 2024 00:00:00 +0000\r\n",          # 1
    "Message-ID: <2@x>\r\nReferences: <1@x>\r\nSubject: Re: Party\r\n"
    "Date: Wed, 03 Jan 2024 00:00:00 +0000\r\n",                                                  # 2
    "Message-ID: <3@x>\r\nReferences: <1@x> <2@x>\r\nDate: Thu, 04 Jan 2024 00:00:00 +0000\r\n",  # 3
    "Message-ID: <4@x>\r\nIn-Reply-To: <1@x>\r\nDate: Fri, 05 Jan 2024 00:00:00 +0000\r\n",       # 4
    "Message-ID: <5@x>\r\nReferences: <99@x>\r\nSubject: lonely\r\n"
    "Date: Sat, 06 Jan 2024 00:00:00 +0000\r\n",                                                  # 5
    "Message-ID: <6@x>\r\nReferences: <98@x>\r\nSubject: Re: Party\r\n"
    "Date: Sun, 07 Jan 2024 00:00:00 +0000\r\n",                                                  # 6
    "Subject: other\r\nDate: Mon, 01 Jan 2024 00:00:00 +0000\r\n",                                # 7
    "Message-ID: <8@x>\r\nReferences: <97@x>\r\nSubject: x1\r\n"
    "Date: Mon, 08 Jan 2024 00:00:00 +0000\r\n",                                                  # 8
    "Message-ID: <9@x>\r\nReferences: <97@x>\r\nSubject: x2\r\n"
    "Date: Tue, 09 Jan 2024 00:00:00 +0000\r\n",                                                  # 9
]


def thread_box(f):
    c = f.conn(f.user())
    gone_first(c)
    for h in THREAD_MSGS:
        append(c, h + "\r\nbody\r\n", "10-Jan-2024 00:00:00 +0000")
    select(c)
    return c


@t
def thread_references(f):
    c = thread_box(f)
    # Step 1: 2 under 1, 3 under 2, 4 under 1 (In-Reply-To); 5 under a
    # dummy <99@x>, 6 under a dummy <98@x>, 8 and 9 under a dummy <97@x>.
    # Step 4: the dummies of 5 and 6 have one child each and go; that of 8
    # and 9 stays.  Step 5: 6 ("Re: Party", a reply) joins 1 ("Party").
    # Step 6: siblings by date; the dummy by its first child's (8).
    assert thread(c, "REFERENCES UTF-8 ALL") == "(7)(1 (2 3)(4)(6))(5)((8)(9))"
    assert thread(c, "REFERENCES UTF-8 ALL", uid=True) == "(8)(2 (3 4)(5)(7))(6)((9)(10))"
    # only what the criteria select is threaded
    assert thread(c, "REFERENCES US-ASCII SUBJECT party") == "(1 (2)(6))"
    assert thread(c, "REFERENCES UTF-8 SUBJECT nothing") == ""
    c.logout()


@t
def thread_orderedsubject(f):
    c = thread_box(f)
    # base subjects: Party {1, 2, 6}, "" {3, 4}, lonely {5}, other {7},
    # x1 {8}, x2 {9}; each set under its earliest; threads by the date of
    # their first message: 7 (Jan 1), 1 (2), 3 (4), 5 (6), 8 (8), 9 (9)
    assert thread(c, "ORDEREDSUBJECT UTF-8 ALL") == "(7)(1 (2)(6))(3 4)(5)(8)(9)"
    assert thread(c, "ORDEREDSUBJECT UTF-8 ALL", uid=True) == "(8)(2 (3)(7))(4 5)(6)(9)(10)"
    # one child is written on the same level (thread-members)
    assert thread(c, "ORDEREDSUBJECT UTF-8 NOT 1") == "(7)(2 6)(3 4)(5)(8)(9)"
    c.logout()


@t
def thread_loops_and_duplicates(f):
    c = f.conn(f.user())
    # RFC 5256 4 step 1: a's References would make c the parent of b and b
    # the parent of c; the link that closes the loop is not made.  A
    # second message with b's Message-ID gets an ID of its own.
    for h, day in (("Message-ID: <a@y>\r\n", 1),
                   ("Message-ID: <b@y>\r\nReferences: <a@y> <c@y>\r\n", 2),
                   ("Message-ID: <c@y>\r\nReferences: <b@y>\r\n", 3),
                   ("Message-ID: <b@y>\r\nReferences: <a@y>\r\n", 4)):
        append(c, h + "\r\nbody\r\n", "%02d-Jan-2024 00:00:00 +0000" % day)
    select(c)
    # 2: c (dummy) under a, 2 under c.  3 fills c: its old parent a is
    # dropped and 2 cannot become its parent (2 is its child).  4 is a
    # new node under a.  Roots by date: 1 (Jan 1), 3 (Jan 3).
    assert thread(c, "REFERENCES UTF-8 ALL") == "(1 4)(3 2)"
    c.logout()


@t
def thread_deep_chain(f):
    c = f.conn(f.user())
    # 600 messages, each a reply to the one before: one thread 600 deep,
    # written as one chain of only children (and built without recursion)
    pieces = ["APPEND INBOX"]
    for k in range(1, 601):
        msg = "Message-ID: <%d@c>\r\n%s\r\nb\r\n" % (k, "In-Reply-To: <%d@c>\r\n" % (k - 1) if k > 1 else "")
        pieces += [' "01-Jan-2024 00:00:00 +0000" ', Lit(msg.encode(), sync=False)]
    u, tagged, sent = c.cmd_literals(pieces)
    assert re.match(r"t\d+ OK", tagged), tagged
    select(c)
    assert thread(c, "REFERENCES UTF-8 ALL") == "(" + " ".join(str(k) for k in range(1, 601)) + ")"
    assert sort(c, "(REVERSE ARRIVAL) UTF-8 ALL") == list(range(1, 601))
    c.logout()


run()
