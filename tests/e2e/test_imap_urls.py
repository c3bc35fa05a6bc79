"""End-to-end tests of IMAP URLs (RFC 5092) in CATENATE (RFC 4469) and
URLAUTH (RFC 4467, RFC 5524 URLAUTH=BINARY).  The expected messages are
built by hand from the RFCs' rules: a CATENATE message is its parts'
octets in order, a URL part being what FETCH BODY.PEEK[section]<partial>
of the message it names would return; a URLAUTH URL is the rump followed
by ":internal:" and a token, and URLFETCH returns what the URL names
without setting \\Seen.  (imaptest's catenate, catenate-multiappend,
urlauth and urlauth-binary scripts, written against Dovecot, check the
same against Tern in tests/imaptest_compliance.py.)  The CATENATE answers
were cross-checked by hand against Dovecot 2.3.19 from Debian: the same
message for catenate_text_and_urls, the same BADURL, TRYCREATE and BAD
answers in catenate_errors, except where docs/IMAP.md says Tern differs
(absolute URLs, a missing section, an empty result)."""

import base64
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Suite  # noqa: E402
from imapcheck import Lit, fetches, parse, select, shared_suite, untagged_of  # noqa: E402
from mailcheck import user_dir  # noqa: E402

suite = Suite()
t, run = shared_suite(suite)

HEADER = b"From: a@example.org\r\nSubject: source\r\n\r\n"
BODY = b"Hello world body\r\n"
SOURCE = HEADER + BODY
HELLO = b"hello world, binary\x00part\r\n"
MULTI = (b"From: b@example.org\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
         b"Content-Type: multipart/mixed; boundary=\"xx\"\r\n\r\n"
         b"--xx\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n"
         b"--xx\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
         base64.encodebytes(HELLO).replace(b"\n", b"\r\n") +
         b"--xx--\r\n")


def appended_uid(tagged):
    m = re.search(r"\[APPENDUID (\d+) (\d+)\]", tagged)
    assert m, "no APPENDUID in %r" % tagged
    return int(m.group(1)), int(m.group(2))


def put(c, msg, mailbox="INBOX"):
    u, tagged, sent = c.cmd_literals(['APPEND "%s" ' % mailbox, Lit(msg)])
    assert sent and " OK " in tagged, tagged
    return appended_uid(tagged)


def body(c, uid, mailbox="INBOX"):
    select(c, mailbox)
    fs = fetches(c.ok("UID FETCH %d (BODY.PEEK[])" % uid))
    (items,) = fs.values()
    return bytes(items["BODY[]"])


def flags(c, uid):
    fs = fetches(c.ok("UID FETCH %d (FLAGS)" % uid))
    (items,) = fs.values()
    return [x.upper() for x in items["FLAGS"]]


@t
def capabilities_after_login(f):
    c = f.conn()
    try:
        (cap,) = untagged_of(c.ok("CAPABILITY"), "CAPABILITY")
        assert b"CATENATE" not in cap and b"URLAUTH" not in cap, cap
        c.login(f.user())
        words = untagged_of(c.ok("CAPABILITY"), "CAPABILITY")[0].split()
        for w in (b"CATENATE", b"URLAUTH", b"URLAUTH=BINARY", b"MULTIAPPEND"):
            assert w in words, (w, words)
    finally:
        c.logout()


@t
def catenate_text_and_urls(f):
    user = f.user()
    c = f.conn(user)
    try:
        uidv, src = put(c, SOURCE)
        u, big = put(c, MULTI)
        c.ok("CREATE Dest")
        # RFC 4469 5: TEXT, URL (the header of src), TEXT -> one message.
        u, tagged, sent = c.cmd_literals([
            'APPEND Dest (\\Flagged) CATENATE (TEXT ', Lit(b"X-First: 1\r\n"),
            ' URL "/INBOX;UIDVALIDITY=%d/;UID=%d/;SECTION=HEADER.FIELDS%%20(SUBJECT)"' % (uidv, src),
            ' URL "/INBOX/;UID=%d/;SECTION=TEXT"' % src,
            ' TEXT ', Lit(b"-- \r\nend\r\n", sync=False), ')'])
        assert sent and " OK [APPENDUID " in tagged, tagged
        duid = appended_uid(tagged)[1]
        want = b"X-First: 1\r\nSubject: source\r\n\r\n" + BODY + b"-- \r\nend\r\n"
        assert body(c, duid, "Dest") == want, body(c, duid, "Dest")
        assert "\\FLAGGED" in flags(c, duid)
        # The absolute form naming this user, a part and a partial.
        local, domain = user.split("@")
        u, tagged, sent = c.cmd_literals([
            'APPEND Dest CATENATE (TEXT ', Lit(b"Subject: part\r\n\r\n"),
            ' URL "imap://%s@%s/INBOX/;UID=%d/;SECTION=1/;PARTIAL=6.4")' % (local, domain, big)])
        assert sent and " OK " in tagged, tagged
        assert body(c, appended_uid(tagged)[1], "Dest") == b"Subject: part\r\n\r\npart"
        # Reading the source set no \Seen on it (RFC 4469 5).
        select(c)
        assert "\\SEEN" not in flags(c, src)
        # A TEXT literal large enough to be streamed to disk.
        big_text = b"Subject: big\r\n\r\n" + b"y" * 70 + b"\r\n"
        big_text += b"z" * (40000 - len(big_text))
        u, tagged, sent = c.cmd_literals([
            'APPEND Dest CATENATE (TEXT ', Lit(big_text), ' URL "/INBOX/;UID=%d/;SECTION=TEXT")' % src])
        assert sent and " OK " in tagged, tagged
        assert body(c, appended_uid(tagged)[1], "Dest") == big_text + BODY
    finally:
        c.logout()


@t
def catenate_with_multiappend(f):
    c = f.conn(f.user())
    try:
        uidv, src = put(c, SOURCE)
        u, tagged, sent = c.cmd_literals([
            'APPEND INBOX CATENATE (URL "/INBOX/;UID=%d/;SECTION=HEADER" TEXT ' % src, Lit(b"one\r\n"), ')',
            ' (\\Seen) ', Lit(b"Subject: plain\r\n\r\ntwo\r\n"),
            ' CATENATE (URL "/INBOX/;UID=%d")' % src])
        assert sent and " OK " in tagged, tagged
        m = re.search(r"\[APPENDUID \d+ (\d+):(\d+)\]", tagged)
        assert m and int(m.group(2)) - int(m.group(1)) == 2, tagged
        first = int(m.group(1))
        assert body(c, first) == HEADER + b"one\r\n"
        assert body(c, first + 1) == b"Subject: plain\r\n\r\ntwo\r\n"
        assert body(c, first + 2) == SOURCE
    finally:
        c.logout()


@t
def catenate_errors(f):
    user = f.user()
    other = f.user()
    c = f.conn(user)
    try:
        uidv, src = put(c, SOURCE)
        select(c)
        before = len(c.ok("UID SEARCH ALL")[0].split()) - 2

        def refused(pieces, code):
            u, tagged, sent = c.cmd_literals(pieces, tag="bad")
            assert tagged.startswith("bad NO [%s" % code), (pieces, tagged)

        # RFC 4469 5: a URL naming nothing is NO [BADURL <url>], and no
        # message is appended, whatever came before it (MULTIAPPEND too).
        url = "/INBOX;UIDVALIDITY=%d/;UID=%d" % (uidv + 1, src)
        u, tagged, sent = c.cmd_literals(['APPEND INBOX CATENATE (TEXT ', Lit(b"a: b\r\n\r\n"),
                                          ' URL "%s")' % url], tag="bad")
        assert tagged.startswith("bad NO [BADURL %s]" % url), tagged
        refused(['APPEND INBOX ', Lit(b"Subject: ok\r\n\r\nx\r\n"),
                 ' CATENATE (URL "/INBOX/;UID=%d")' % (src + 100)], "BADURL")
        refused(['APPEND INBOX CATENATE (URL "/INBOX/;UID=%d/;SECTION=9")' % src], "BADURL")
        refused(['APPEND INBOX CATENATE (URL "/Nowhere/;UID=1")'], "BADURL")
        refused(['APPEND INBOX CATENATE (URL "not a url")'], "BADURL")
        # Another user's mailbox is not this user's to read.
        local, domain = other.split("@")
        refused(['APPEND INBOX CATENATE (URL "imap://%s@%s/INBOX/;UID=1")' % (local, domain)], "BADURL")
        # A URL with URLAUTH but no valid token.
        refused(['APPEND INBOX CATENATE (URL "imap://%s/INBOX/;UID=%d;URLAUTH=authuser:internal:%s")'
                 % (user.replace("@", "@", 1), src, "0" * 64)], "BADURL")
        # A missing destination is TRYCREATE before any URL is looked at.
        refused(['APPEND Nowhere CATENATE (URL "/INBOX/;UID=%d/;SECTION=9")' % src], "TRYCREATE")
        # An empty result is refused like an empty literal.
        u, tagged, sent = c.cmd_literals(['APPEND INBOX CATENATE (URL "/INBOX/;UID=%d/;PARTIAL=9999")' % src],
                                         tag="bad")
        assert tagged.startswith("bad NO "), tagged
        # Grammar errors are BAD.
        u, tagged, sent = c.cmd_literals(['APPEND INBOX CATENATE ()'], tag="bad")
        assert tagged.startswith("bad BAD"), tagged
        u, tagged, sent = c.cmd_literals(['APPEND INBOX CATENATE (TEXT "quoted")'], tag="bad")
        assert tagged.startswith("bad BAD"), tagged
        select(c)
        after = len(c.ok("UID SEARCH ALL")[0].split()) - 2
        assert after == before, (before, after)
    finally:
        c.logout()


@t
def catenate_toobig(f):
    srv = f.server(users=("big@example.test",), max_message_size="1K")
    from imapcheck import Conn
    c = Conn(srv.port("imap"))
    try:
        c.login("big@example.test")
        uidv, src = put(c, b"Subject: s\r\n\r\n" + b"x" * 600 + b"\r\n")
        u, tagged, sent = c.cmd_literals(['APPEND INBOX CATENATE (URL "/INBOX/;UID=%d" URL "/INBOX/;UID=%d")'
                                          % (src, src)], tag="big")
        assert tagged.startswith("big NO [TOOBIG]"), tagged
    finally:
        c.logout()


def genurlauth(c, rump):
    (line,) = untagged_of(c.ok('GENURLAUTH "%s" INTERNAL' % rump), "GENURLAUTH")
    url = parse(line[len(b"* GENURLAUTH "):])[0]
    url = url.decode() if isinstance(url, bytes) else url
    assert url.startswith(rump + ":internal:"), (rump, url)
    token = url[len(rump) + len(":internal:"):]
    assert re.fullmatch(r"[0-9a-f]{64}", token), token
    return url


def urlfetch(c, arg):
    (line,) = untagged_of(c.ok("URLFETCH %s" % arg), "URLFETCH")
    return parse(line[len(b"* URLFETCH "):])


@t
def urlauth_generate_fetch_reset(f):
    user = f.user()
    other = f.user()
    c = f.conn(user)
    try:
        uidv, src = put(c, SOURCE)
        u, multi = put(c, MULTI)
        local, domain = user.split("@")
        base = "imap://%s@%s/INBOX/;UID=%d" % (local, domain, src)
        url = genurlauth(c, base + ";URLAUTH=user+" + user)
        # RFC 4467 6.2: the URL back, then the octets it names.
        url_back, data = urlfetch(c, '"%s"' % url)
        assert url_back == url.encode() and bytes(data) == SOURCE, (url_back, data)
        # Sections; authuser access; the same URL twice in one command.
        sect = genurlauth(c, base + "/;SECTION=HEADER;URLAUTH=authuser")
        line = untagged_of(c.ok('URLFETCH "%s" "%s"' % (sect, sect)), "URLFETCH")
        assert len(line) == 2 and all(bytes(parse(x[11:])[1]) == HEADER for x in line), line
        # Fetching set no \Seen (RFC 4467 3: it is not a FETCH).
        select(c)
        assert "\\SEEN" not in flags(c, src)
        # A changed token, an unknown mechanism, a URL for another user:
        # NIL (RFC 4467 6.2: the URL is invalid, the command is OK).
        bad = url[:-1] + ("0" if url[-1] != "0" else "1")
        assert urlfetch(c, '"%s"' % bad)[1] is None
        mine_for_other = genurlauth(c, base + ";URLAUTH=user+" + other)
        assert urlfetch(c, '"%s"' % mine_for_other)[1] is None
        submit = genurlauth(c, base + ";URLAUTH=submit+" + user)
        assert urlfetch(c, '"%s"' % submit)[1] is None, "submit+ URLs are for the submission server only"
        expired = genurlauth(c, base + ";EXPIRE=2001-01-01T00:00:00Z;URLAUTH=authuser")
        assert urlfetch(c, '"%s"' % expired)[1] is None
        # Another user of the server reads what a URL for them names
        # (RFC 4467 3: "user+<them>" and "authuser"), from the owner's
        # mailbox, but not this user's own user+ URL, nor a forged one.
        c2 = f.conn(other)
        try:
            assert urlfetch(c2, '"%s"' % url)[1] is None
            assert bytes(urlfetch(c2, '"%s"' % mine_for_other)[1]) == SOURCE
            assert bytes(urlfetch(c2, '"%s"' % sect)[1]) == HEADER
            assert urlfetch(c2, '"%s"' % (sect[:-1] + ("0" if sect[-1] != "0" else "1")))[1] is None
            assert urlfetch(c2, '"%s"' % submit)[1] is None
            # A URL of a user that does not exist: NIL, and no store made.
            ghost = "imap://ghost@%s/INBOX/;UID=1;URLAUTH=authuser:internal:%s" % (domain, "0" * 64)
            assert urlfetch(c2, '"%s"' % ghost)[1] is None
            assert not os.path.exists(user_dir(f.srv, "ghost@" + domain))
        finally:
            c2.logout()
        # GENURLAUTH refusals.
        for rump in (base,                                           # no ;URLAUTH=
                     base + ";URLAUTH=anonymous",                    # never offered
                     "/INBOX/;UID=%d;URLAUTH=authuser" % src,        # not absolute
                     "imap://%s/INBOX/;UID=1;URLAUTH=authuser" % other,   # another user's
                     "imap://%s@%s/Nowhere/;UID=1;URLAUTH=authuser" % (local, domain)):
            u, tagged = c.cmd('GENURLAUTH "%s" INTERNAL' % rump, tag="g")
            assert tagged.startswith("g NO"), (rump, tagged)
        u, tagged = c.cmd('GENURLAUTH "%s;URLAUTH=authuser" XSHA1' % base, tag="g")
        assert tagged.startswith("g NO"), tagged
        u, tagged = c.cmd('GENURLAUTH "%s;URLAUTH=authuser"' % base, tag="g")
        assert tagged.startswith("g BAD"), tagged
        # URLAUTH=BINARY (RFC 5524): the decoded part, as a literal8 when
        # it holds NUL, and its structure.
        bin_url = genurlauth(c, "imap://%s@%s/INBOX/;UID=%d/;SECTION=2;URLAUTH=user+%s" % (local, domain, multi, user))
        back, items = urlfetch(c, '("%s" BINARY BODYPARTSTRUCTURE)' % bin_url)
        assert items[0].upper() == "BODYPARTSTRUCTURE" and items[2].upper() == "BINARY", items
        assert [x.upper() for x in items[1][:2]] == [b"APPLICATION", b"OCTET-STREAM"], items
        assert bytes(items[3]) == HELLO and getattr(items[3], "literal8", False), items[3]
        back, items = urlfetch(c, '("%s" BODY)' % bin_url)
        assert items[0].upper() == "BODY" and base64.b64decode(bytes(items[1])) == HELLO, items
        # RESETKEY of the mailbox: every URL made for it stops working.
        c.ok("RESETKEY INBOX")
        assert urlfetch(c, '"%s"' % url)[1] is None
        assert urlfetch(c, '"%s"' % sect)[1] is None
        url2 = genurlauth(c, base + ";URLAUTH=user+" + user)
        assert url2 != url and bytes(urlfetch(c, '"%s"' % url2)[1]) == SOURCE
        c.ok("RESETKEY")
        assert urlfetch(c, '"%s"' % url2)[1] is None
        u, tagged = c.cmd("RESETKEY Nowhere", tag="r")
        assert tagged.startswith("r NO [NONEXISTENT]"), tagged
        # A mailbox deleted and made again has a new key.
        c.ok("CREATE Again")
        uv, a1 = put(c, SOURCE, "Again")
        again = "imap://%s@%s/Again/;UID=%d;URLAUTH=authuser" % (local, domain, a1)
        aurl = genurlauth(c, again)
        c.ok("DELETE Again")
        c.ok("CREATE Again")
        put(c, SOURCE, "Again")
        assert urlfetch(c, '"%s"' % aurl)[1] is None
    finally:
        c.logout()


run()
