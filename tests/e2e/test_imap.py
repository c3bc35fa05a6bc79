"""End-to-end tests of IMAP (RFC 9051, RFC 3501 and the extensions of
issue 3): capabilities, logins, STARTTLS, NAMESPACE, ID, ENABLE, LIST and
its extensions, mailbox management, STATUS, SELECT/EXAMINE, FETCH of every
item, STORE, COPY/MOVE, EXPUNGE, SEARCH with ESEARCH/SEARCHRES, QUOTA,
CLOSE/UNSELECT/LOGOUT, non-ASCII mailbox names, imaplib and curl.

The cases share one server (imapcheck.Shared); each uses its own users.
Expected answers are worked out from the RFCs, not from Tern's output."""

import base64
import imaplib
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import PASSWORD, Suite  # noqa: E402
from imapcheck import (  # noqa: E402
    DEFAULT_MAILBOXES, Conn, Lit, apply_expunges, b64, check, esearch, expand_set, fetches,
    imaplib_client, internaldate_epoch, list_entries, lsub_names, parse, search_numbers, select, shared_suite,
    status_of, untagged_of, upper_strs)
from mailcheck import HOST, assert_delivered_exact, curl, deliver, message  # noqa: E402

suite = Suite()
t, run = shared_suite(suite, max_message_size="10M")

LOGGED_IN_CAPS = ("IMAP4REV1", "IMAP4REV2", "NAMESPACE", "UNSELECT", "UIDPLUS", "MOVE", "CHILDREN", "SPECIAL-USE",
                  "CREATE-SPECIAL-USE", "LIST-EXTENDED", "LIST-STATUS", "ESEARCH", "SEARCHRES", "CONTEXT=SEARCH",
                  "WITHIN", "SAVEDATE", "REPLACE", "CONDSTORE",
                  "QRESYNC", "BINARY", "MULTIAPPEND", "STATUS=SIZE", "QUOTA", "COMPRESS=DEFLATE", "IDLE", "ID",
                  "ENABLE", "LITERAL+", "SASL-IR")


def caps_of(text):
    """The capability words of a '* CAPABILITY ...' line or of an
    '[CAPABILITY ...]' response code, upper-cased."""
    if isinstance(text, bytes):
        text = text.decode()
    m = re.search(r"\[CAPABILITY ([^\]]*)\]", text)
    words = m.group(1) if m else text.split("CAPABILITY", 1)[1]
    return set(w.upper() for w in words.split())


def capability(c):
    u = c.ok("CAPABILITY")
    rs = untagged_of(u, "CAPABILITY")
    assert len(rs) == 1, u
    return caps_of(rs[0])


def mutf7(name):
    """Modified UTF-7 (RFC 3501 5.1.3) of a Python string."""
    out, run_ = [], []

    def flush():
        if run_:
            raw = "".join(run_).encode("utf-16-be")
            out.append("&" + base64.b64encode(raw).decode().rstrip("=").replace("/", ",") + "-")
            run_.clear()
    for ch in name:
        if 0x20 <= ord(ch) <= 0x7e:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run_.append(ch)
    flush()
    return "".join(out)


def append(c, mailbox, msg, flags=None, date=None):
    """APPEND with a synchronising literal; returns (uidvalidity, uid)."""
    pieces = ['APPEND "%s" ' % mailbox]
    if flags is not None:
        pieces.append("(%s) " % flags)
    if date is not None:
        pieces.append('"%s" ' % date)
    pieces.append(Lit(msg))
    untagged, tagged, sent = c.cmd_literals(pieces)
    assert sent and " OK " in tagged, tagged
    m = re.search(r"\[APPENDUID (\d+) (\d+)\]", tagged)
    assert m, "no APPENDUID: %r" % tagged
    return int(m.group(1)), int(m.group(2))


def simple(n, subject=None, body=None):
    return message(subject=subject or "message %d" % n, body=body or "body %d\r\n" % n)


# --- a multipart message whose structure is worked out by hand ---

PDF = bytes(range(256)) * 3 + b"\x00\x00end"   # binary, with NULs
PDF_B64 = base64.encodebytes(PDF).replace(b"\n", b"\r\n")
PLAIN_QP = b"Caf=C3=A9 au lait, the quarterly numbers.\r\nSecond line with zebra.\r\n"
PLAIN_DECODED = "Café au lait, the quarterly numbers.\r\nSecond line with zebra.\r\n".encode()
HTML = b"<p>Caf&eacute; au lait</p>\r\n"
INNER_HEAD = (b"From: Dave Inner <dave@example.net>\r\nSubject: inner note\r\n"
              b"Date: Sun, 01 Feb 2026 09:00:00 +0000\r\nMessage-ID: <inner@example.net>\r\n\r\n")
INNER_BODY = b"inner body line 1\r\ninner body line 2\r\n"
INNER = INNER_HEAD + INNER_BODY
PLAIN_MIME = b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
HTML_MIME = b"Content-Type: text/html; charset=utf-8\r\n\r\n"
PDF_MIME = (b'Content-Type: application/pdf; name="r.pdf"\r\nContent-Disposition: attachment; filename="r.pdf"\r\n'
            b"Content-Language: en\r\nContent-Location: http://example.test/r.pdf\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n")
MSG_MIME = b"Content-Type: message/rfc822\r\n\r\n"
ALT = (b"--inner\r\n" + PLAIN_MIME + PLAIN_QP + b"\r\n--inner\r\n" + HTML_MIME + HTML +
       b"\r\n--inner--\r\n")
ALT_MIME = b'Content-Type: multipart/alternative; boundary="inner"\r\n\r\n'
MP_HEAD = (b'From: "Alice Example" <alice@example.test>\r\n'
           b"To: Bob <bob@example.org>, carol@example.org\r\n"
           b"Cc: <dan@example.org>\r\n"
           b"Subject: =?UTF-8?Q?caf=C3=A9?= report\r\n"
           b"Date: Mon, 02 Feb 2026 10:00:00 +0100\r\n"
           b"Message-ID: <mp1@example.test>\r\n"
           b"In-Reply-To: <parent@example.test>\r\n"
           b"MIME-Version: 1.0\r\n"
           b'Content-Type: multipart/mixed; boundary="outer"\r\n\r\n')
MP_TEXT = (b"This is a MIME message.\r\n"
           b"--outer\r\n" + ALT_MIME + ALT +
           b"\r\n--outer\r\n" + PDF_MIME + PDF_B64 +
           b"\r\n--outer\r\n" + MSG_MIME + INNER +
           b"\r\n--outer--\r\n")
MULTIPART = MP_HEAD + MP_TEXT


def lines(b):
    return b.count(b"\n")


def inner_envelope():
    return [b"Sun, 01 Feb 2026 09:00:00 +0000", b"inner note",
            [[b"Dave Inner", None, b"dave", b"example.net"]], [[b"Dave Inner", None, b"dave", b"example.net"]],
            [[b"Dave Inner", None, b"dave", b"example.net"]], None, None, None, None, b"<inner@example.net>"]


def expected_bodystructure(extended):
    ext1 = [None, None, None, None] if extended else []
    plain = ["TEXT", "PLAIN", ["CHARSET", b"utf-8"], None, None, "QUOTED-PRINTABLE", len(PLAIN_QP),
             lines(PLAIN_QP)] + ext1
    html = ["TEXT", "HTML", ["CHARSET", b"utf-8"], None, None, "7BIT", len(HTML), lines(HTML)] + ext1
    alt = [plain, html, "ALTERNATIVE"] + ([["BOUNDARY", b"inner"], None, None, None] if extended else [])
    pdf = ["APPLICATION", "PDF", ["NAME", b"r.pdf"], None, None, "BASE64", len(PDF_B64)]
    if extended:
        pdf += [None, ["ATTACHMENT", ["FILENAME", b"r.pdf"]], b"en", b"http://example.test/r.pdf"]
    inner_text = ["TEXT", "PLAIN", ["CHARSET", b"us-ascii"], None, None, "7BIT", len(INNER_BODY),
                  lines(INNER_BODY)] + ext1
    msg = ["MESSAGE", "RFC822", None, None, None, "7BIT", len(INNER), inner_envelope(), inner_text,
           lines(INNER)] + ext1
    return [alt, pdf, msg, "MIXED"] + ([["BOUNDARY", b"outer"], None, None, None] if extended else [])


def norm_body(b, extended):
    """A BODY/BODYSTRUCTURE as parsed, with the case-insensitive parts
    (types, subtypes, encodings, parameter and disposition names)
    upper-cased, numbers as int, and absent trailing extension data
    filled with NIL (RFC 3501 9: body-ext-1part items after md5 are
    optional)."""
    if isinstance(b[0], list):
        i = 0
        parts = []
        while isinstance(b[i], list):
            parts.append(norm_body(b[i], extended))
            i += 1
        out = parts + [upper_strs(b[i])]
        ext = b[i + 1:]
        if extended:
            ext = ext + [None] * (4 - len(ext))
            ext[0] = norm_params(ext[0])
            ext[1] = norm_disp(ext[1])
        return out + ext
    out = [upper_strs(b[0]), upper_strs(b[1]), norm_params(b[2]), b[3], b[4], upper_strs(b[5]), int(b[6])]
    rest = b[7:]
    if out[0] == "TEXT":
        out.append(int(rest[0]))
        rest = rest[1:]
    elif out[0] == "MESSAGE" and out[1] == "RFC822":
        out += [rest[0], norm_body(rest[1], extended), int(rest[2])]
        rest = rest[3:]
    if extended:
        rest = rest + [None] * (4 - len(rest))
        rest[1] = norm_disp(rest[1])
    return out + rest


def norm_params(p):
    if p is None:
        return None
    out = []
    for k, v in zip(p[0::2], p[1::2]):
        out += [upper_strs(k), v if k.upper() not in (b"CHARSET", "CHARSET") else v.lower()]
    return out


def norm_disp(d):
    if d is None:
        return None
    return [upper_strs(d[0]), norm_params(d[1])] + d[2:]


# ---------------------------------------------------------------------------


@t
def capability_before_and_after_login(f):
    user = f.user()
    c = f.conn()
    try:
        g = c.greeting.decode()
        assert g.startswith("* OK "), g
        pre = capability(c)
        if "[CAPABILITY" in g:
            assert caps_of(g) == pre, (g, pre)
        for cap in ("IMAP4REV1", "IMAP4REV2", "STARTTLS", "AUTH=PLAIN", "SASL-IR", "LITERAL+", "ID", "ENABLE",
                    "IDLE"):
            assert cap in pre, (cap, pre)
        # allow_plaintext = loopback: passwords are fine here.
        assert "LOGINDISABLED" not in pre, pre
        untagged, tagged = c.ok_tagged('LOGIN "%s" "%s"' % (user, PASSWORD))
        post = capability(c)
        if "[CAPABILITY" in tagged:
            assert caps_of(tagged) == post, (tagged, post)
        for cap in LOGGED_IN_CAPS:
            assert cap in post, (cap, post)
        assert "APPENDLIMIT=%d" % (10 * 1024 * 1024) in post, post
        assert not any(x.startswith("AUTH=") for x in post), post
        assert "STARTTLS" not in post and "LOGINDISABLED" not in post, post
    finally:
        c.logout()
    # Implicit TLS: no STARTTLS offered.
    c = f.conn(tls=True, service="imaps")
    try:
        pre = capability(c)
        assert "STARTTLS" not in pre and "AUTH=PLAIN" in pre and "LOGINDISABLED" not in pre, pre
    finally:
        c.logout()


@t
def login_and_failures(f):
    user = f.user()
    c = f.conn()
    try:
        # Commands that need a login.
        for cmd in ("SELECT INBOX", 'LIST "" "*"', "ENABLE CONDSTORE", "NAMESPACE", "FETCH 1 FLAGS"):
            u, tagged = c.cmd(cmd, tag="x")
            assert tagged.startswith("x BAD ") or tagged.startswith("x NO "), (cmd, tagged)
        u, wrong = c.cmd('LOGIN "%s" "not the password"' % user, tag="w")
        u, unknown = c.cmd('LOGIN "nobody@example.test" "not the password"', tag="w")
        assert wrong.startswith("w NO [AUTHENTICATIONFAILED] "), wrong
        assert wrong == unknown, (wrong, unknown)
        u, tagged = c.cmd("LOGIN onlyone", tag="b")
        assert tagged.startswith("b BAD "), tagged
        # Quoted strings with escapes and a literal password.
        u, tagged, sent = c.cmd_literals(['LOGIN "%s" ' % user, Lit(PASSWORD)], tag="l")
        assert sent and tagged.startswith("l OK"), tagged
        u, tagged = c.cmd('LOGIN "%s" "%s"' % (user, PASSWORD), tag="again")
        assert tagged.startswith("again BAD ") or tagged.startswith("again NO "), tagged
        c.ok("NOOP")
    finally:
        c.logout()
    # imaplib's LOGIN, and its error.
    m = imaplib_client(f.srv)
    try:
        try:
            m.login(user, "wrong")
            raise AssertionError("wrong password accepted")
        except imaplib.IMAP4.error as e:
            assert "AUTHENTICATIONFAILED" in str(e), e
    finally:
        m.shutdown()
    m = imaplib_client(f.srv, user)
    typ, data = m.select("INBOX")
    assert typ == "OK" and data == [b"0"], (typ, data)
    m.logout()


@t
def authenticate_plain(f):
    user = f.user()
    other = f.user()
    # SASL-IR (RFC 4959).
    c = f.conn()
    try:
        u, tagged = c.cmd("AUTHENTICATE PLAIN " + b64("\0%s\0%s" % (user, PASSWORD)), tag="a")
        assert tagged.startswith("a OK"), tagged
        c.ok("SELECT INBOX")
    finally:
        c.logout()
    # Without an initial response: "+ " (empty challenge), then the response.
    c = f.conn()
    try:
        c.send("a AUTHENTICATE PLAIN\r\n")
        cont = c.line()
        assert cont in (b"+ ", b"+"), cont
        c.send(b64("%s\0%s\0%s" % (user, user, PASSWORD)) + "\r\n")
        u, tagged = c.read_until_tagged("a")
        assert tagged.startswith("a OK"), tagged
    finally:
        c.logout()
    c = f.conn()
    try:
        # Cancelled: "*" gives BAD (RFC 9051 6.2.2).
        c.send("c AUTHENTICATE PLAIN\r\n")
        assert c.line().startswith(b"+")
        c.send("*\r\n")
        u, tagged = c.read_until_tagged("c")
        assert tagged.startswith("c BAD "), tagged
        # Wrong password.
        u, tagged = c.cmd("AUTHENTICATE PLAIN " + b64("\0%s\0wrong" % user), tag="d")
        assert tagged.startswith("d NO [AUTHENTICATIONFAILED]"), tagged
        # Authorising as someone else is refused.
        u, tagged = c.cmd("AUTHENTICATE PLAIN " + b64("%s\0%s\0%s" % (other, user, PASSWORD)), tag="e")
        assert tagged.startswith("e NO "), tagged
        # Garbage base64.
        u, tagged = c.cmd("AUTHENTICATE PLAIN !!!notbase64", tag="g")
        assert tagged.startswith("g BAD ") or tagged.startswith("g NO "), tagged
        # Unknown mechanism.
        u, tagged = c.cmd("AUTHENTICATE CRAM-MD5", tag="h")
        assert tagged.startswith("h NO ") or tagged.startswith("h BAD "), tagged
        # Still usable.
        u, tagged = c.cmd("AUTHENTICATE PLAIN " + b64("\0%s\0%s" % (user, PASSWORD)), tag="i")
        assert tagged.startswith("i OK"), tagged
    finally:
        c.logout()
    # imaplib's authenticate() (no SASL-IR: uses the continuation).
    m = imaplib_client(f.srv)
    try:
        typ, data = m.authenticate("PLAIN", lambda _: ("\0%s\0%s" % (user, PASSWORD)).encode())
        assert typ == "OK", (typ, data)
    finally:
        m.logout()


@t
def logindisabled_without_tls(f):
    srv = f.server(users=("alice@example.test",), allow_plaintext="never")
    c = Conn(srv.port("imap"))
    try:
        pre = capability(c)
        assert "LOGINDISABLED" in pre and "STARTTLS" in pre, pre
        assert "AUTH=PLAIN" not in pre, pre
        u, tagged = c.cmd('LOGIN "alice@example.test" "%s"' % PASSWORD, tag="a")
        assert tagged.startswith("a NO ") or tagged.startswith("a BAD "), tagged
        u, tagged = c.cmd("AUTHENTICATE PLAIN " + b64("\0alice@example.test\0" + PASSWORD), tag="b")
        assert tagged.startswith("b NO ") or tagged.startswith("b BAD "), tagged
        c.starttls()
        post = capability(c)
        assert "LOGINDISABLED" not in post and "STARTTLS" not in post and "AUTH=PLAIN" in post, post
        c.login("alice@example.test")
        c.ok("SELECT INBOX")
    finally:
        c.logout()
    m = imaplib_client(srv, "alice@example.test", tls="implicit")
    check(m.select("INBOX"))
    m.logout()
    m = imaplib_client(srv, "alice@example.test", tls="starttls")
    check(m.list())
    m.logout()


@t
def starttls_drops_pipelined_commands(f):
    user = f.user()
    c = f.conn()
    try:
        # RFC 9051 6.2.1 / CVE-2011-0411: nothing sent after STARTTLS in
        # the same packet may be run inside TLS.
        c.send("a STARTTLS\r\nb LOGIN \"%s\" \"%s\"\r\n" % (user, PASSWORD))
        u, tagged = c.read_until_tagged("a")
        assert tagged.startswith("a OK"), tagged
        from harness import client_tls
        c.sock = client_tls().wrap_socket(c.sock, server_hostname="mail.example.test")
        c.buf = b""
        u, tagged = c.cmd("NOOP", tag="n")
        assert tagged.startswith("n OK") and u == [], (u, tagged)
        u, tagged = c.cmd("SELECT INBOX", tag="s")
        assert tagged.startswith("s BAD ") or tagged.startswith("s NO "), "pipelined LOGIN was run: %r" % tagged
        u, tagged = c.cmd("STARTTLS", tag="again")
        assert tagged.startswith("again BAD ") or tagged.startswith("again NO "), tagged
        c.login(user)
        c.ok("SELECT INBOX")
    finally:
        c.logout()


@t
def namespace_id_enable(f):
    user = f.user()
    c = f.conn(user)
    try:
        u = c.ok("NAMESPACE")
        ns = untagged_of(u, "NAMESPACE")
        assert len(ns) == 1, u
        v = parse(ns[0][len(b"* NAMESPACE "):])
        assert v[0] == [[b"", b"/"]] and v[1] is None and v[2] is None, v
        # ID (RFC 2971), with NIL and with a list.
        for arg in ('NIL', '("name" "e2e" "version" "1.0")'):
            u = c.ok("ID " + arg)
            ids = untagged_of(u, "ID")
            assert len(ids) == 1, u
            v = parse(ids[0][len(b"* ID "):])[0]
            assert v is None or (isinstance(v, list) and len(v) % 2 == 0), v
        u, tagged = c.cmd("ID (\"name\")", tag="odd")
        assert tagged.startswith("odd BAD"), tagged
        # ENABLE (RFC 5161): what was enabled is listed once.
        u = c.ok("ENABLE CONDSTORE")
        assert u == [b"* ENABLED CONDSTORE"], u
        u = c.ok("ENABLE CONDSTORE QRESYNC X-UNKNOWN")
        assert len(u) == 1 and u[0].split()[:2] == [b"*", b"ENABLED"], u
        assert b"QRESYNC" in u[0].upper() and b"X-UNKNOWN" not in u[0].upper(), u
        u = c.ok("ENABLE X-NOTHING")
        assert u == [b"* ENABLED"], u
        u = c.ok("ENABLE IMAP4rev2")
        assert [w.upper() for w in u[0].split()] == [b"*", b"ENABLED", b"IMAP4REV2"], u
        # After IMAP4rev2, SELECT sends no RECENT and a LIST (RFC 9051 6.3.2).
        info = select(c, "INBOX")
        assert not untagged_of(info["untagged"], "RECENT"), info["untagged"]
        assert len(untagged_of(info["untagged"], "LIST")) == 1, info["untagged"]
        # ... and SEARCH answers with ESEARCH (RFC 9051 6.4.4, 7.3.4).
        append(c, "INBOX", simple(1))
        u = c.ok("SEARCH ALL", tag="rev2s")
        assert untagged_of(u, "SEARCH") == [] and esearch(u) == ("rev2s", False, {"ALL": "1"}), u
    finally:
        c.logout()


@t
def list_defaults_and_extensions(f):
    user = f.user()
    c = f.conn(user)
    try:
        entries = list_entries(c.ok('LIST "" "*"'))
        assert set(entries) == set(DEFAULT_MAILBOXES), entries
        for name, use in DEFAULT_MAILBOXES.items():
            attrs, delim, _ = entries[name]
            assert delim == b"/", (name, delim)
            if use is not None:
                assert use.upper() in attrs, (name, attrs)
            assert "\\HASNOCHILDREN" in attrs, (name, attrs)   # CHILDREN (RFC 3348)
        assert not entries["INBOX"][0] & {"\\DRAFTS", "\\SENT", "\\TRASH", "\\JUNK", "\\ARCHIVE"}, entries
        # The delimiter query.
        u = c.ok('LIST "" ""')
        v = parse(untagged_of(u, "LIST")[0][len(b"* LIST "):])
        assert [a.upper() for a in v[0]] == ["\\NOSELECT"] and v[1] == b"/" and v[2] == b"", v
        # "%" and a reference; INBOX in any case.
        c.ok('CREATE "Projects/Tern"')
        c.ok('CREATE "Projects/Other/Deep"')
        entries = list_entries(c.ok('LIST "" "%"'))
        assert set(entries) == set(DEFAULT_MAILBOXES) | {"Projects"}, entries
        assert "\\HASCHILDREN" in entries["Projects"][0], entries
        entries = list_entries(c.ok('LIST "Projects/" "%"'))
        assert set(entries) == {"Projects/Tern", "Projects/Other"}, entries
        entries = list_entries(c.ok('LIST "" "inbox"'))
        assert set(entries) == {"INBOX"}, entries
        entries = list_entries(c.ok('LIST "" "Pro*Deep"'))
        assert set(entries) == {"Projects/Other/Deep"}, entries
        # SPECIAL-USE selection and return options (RFC 6154).
        entries = list_entries(c.ok('LIST (SPECIAL-USE) "" "*"'))
        assert set(entries) == set(DEFAULT_MAILBOXES) - {"INBOX"}, entries
        entries = list_entries(c.ok('LIST "" "*" RETURN (SPECIAL-USE)'))
        assert "\\SENT" in entries["Sent"][0], entries
        # Several patterns (RFC 5258).
        entries = list_entries(c.ok('LIST "" ("INBOX" "Sent" "Projects/*")'))
        assert set(entries) == {"INBOX", "Sent", "Projects/Tern", "Projects/Other", "Projects/Other/Deep"}, entries
        # SUBSCRIBED, RECURSIVEMATCH with CHILDINFO (RFC 5258 3.5).
        c.ok('SUBSCRIBE "Projects/Other/Deep"')
        c.ok('SUBSCRIBE "Sent"')
        entries = list_entries(c.ok('LIST (SUBSCRIBED) "" "*"'))
        assert {"Projects/Other/Deep", "Sent"} <= set(entries), entries
        for name, (attrs, _, _) in entries.items():
            assert "\\SUBSCRIBED" in attrs, (name, attrs)
        assert "Projects/Tern" not in entries, entries
        u = c.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')
        entries = list_entries(u)
        assert "Projects" in entries, u
        extra = entries["Projects"][2]
        assert extra and upper_strs(extra[0]) == ["CHILDINFO", ["SUBSCRIBED"]], u
        assert "\\SUBSCRIBED" not in entries["Projects"][0], u
        u, tagged = c.cmd('LIST (RECURSIVEMATCH) "" "*"', tag="rm")
        assert tagged.startswith("rm BAD"), tagged   # RFC 5258 3: RECURSIVEMATCH alone is BAD
        entries = list_entries(c.ok('LIST "" "*" RETURN (SUBSCRIBED CHILDREN)'))
        assert "\\SUBSCRIBED" in entries["Sent"][0], entries
        assert "\\SUBSCRIBED" in entries["Projects/Other/Deep"][0], entries
        assert "\\SUBSCRIBED" not in entries["Projects/Tern"][0], entries
        assert "\\HASCHILDREN" in entries["Projects/Other"][0], entries
        # LSUB (RFC 3501).
        names = lsub_names(c.ok('LSUB "" "*"'))
        assert {"Projects/Other/Deep", "Sent"} <= set(names), names
        assert "Projects/Tern" not in names, names
        # LIST-STATUS (RFC 5819): a STATUS after each LIST.
        c.cmd_literals(['APPEND "Sent" ', Lit(simple(1))])
        u = c.ok('LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN UIDNEXT))')
        st = status_of(u)
        assert st["Sent"] == {"MESSAGES": 1, "UNSEEN": 1, "UIDNEXT": st["Sent"]["UIDNEXT"]}, st
        assert st["INBOX"]["MESSAGES"] == 0 and st["Drafts"]["MESSAGES"] == 0, st
        selectable = {n for n, (a, _, _) in list_entries(u).items() if "\\NOSELECT" not in a}
        assert set(st) == selectable, u
        # Order: each STATUS follows its LIST.
        kinds = [r.split()[1] for r in u]
        for i, k in enumerate(kinds):
            if k == b"STATUS":
                assert kinds[i - 1] == b"LIST", u
    finally:
        c.logout()


@t
def create_delete_rename(f):
    user = f.user()
    c = f.conn(user)
    try:
        c.ok('CREATE "a/b/c"')
        entries = list_entries(c.ok('LIST "" "a*"'))
        assert set(entries) == {"a", "a/b", "a/b/c"}, entries
        assert "\\HASCHILDREN" in entries["a"][0] and "\\HASNOCHILDREN" in entries["a/b/c"][0], entries
        # Trailing delimiter: the name without it (RFC 9051 6.3.4).
        c.ok('CREATE "x/"')
        assert set(list_entries(c.ok('LIST "" "x*"'))) == {"x"}
        u, tagged = c.cmd('CREATE "x"', tag="dup")
        assert tagged.startswith("dup NO [ALREADYEXISTS]"), tagged
        u, tagged = c.cmd('CREATE "inbox"', tag="ib")
        assert tagged.startswith("ib NO"), tagged
        u, tagged = c.cmd('DELETE "INBOX"', tag="dib")
        assert tagged.startswith("dib NO"), tagged
        u, tagged = c.cmd('DELETE "nothere"', tag="dn")
        assert tagged.startswith("dn NO [NONEXISTENT]"), tagged
        # CREATE-SPECIAL-USE (RFC 6154 3).
        c.ok('CREATE "Old Sent" (USE (\\Sent))')
        entries = list_entries(c.ok('LIST "" "Old Sent"'))
        assert "\\SENT" in entries["Old Sent"][0], entries
        # DELETE of a mailbox with inferiors: NO [HASCHILDREN], or OK
        # leaving it \Noselect (RFC 9051 6.3.4).
        c.cmd_literals(['APPEND "a" ', Lit(simple(1))])
        u, tagged = c.cmd('DELETE "a"', tag="dc")
        entries = list_entries(c.ok('LIST "" "a*"'))
        if tagged.startswith("dc OK"):
            assert "\\NOSELECT" in entries["a"][0], entries
            u, tagged = c.cmd('DELETE "a"', tag="dns")
            assert tagged.startswith("dns NO"), "\\Noselect with inferiors deleted: %r" % tagged
        else:
            assert tagged.startswith("dc NO [HASCHILDREN]"), tagged
            assert set(entries) == {"a", "a/b", "a/b/c"}, entries
        c.ok('DELETE "a/b/c"')
        # RENAME moves the inferiors too.
        c.ok('CREATE "r/s/t"')
        c.cmd_literals(['APPEND "r/s" ', Lit(simple(7))])
        c.ok('RENAME "r" "z"')
        entries = list_entries(c.ok('LIST "" "*"'))
        assert {"z", "z/s", "z/s/t"} <= set(entries) and not any(n.split("/")[0] == "r" for n in entries), entries
        assert status_of(c.ok('STATUS "z/s" (MESSAGES)'))["z/s"]["MESSAGES"] == 1
        u, tagged = c.cmd('RENAME "nothere" "y"', tag="rn")
        assert tagged.startswith("rn NO [NONEXISTENT]"), tagged
        u, tagged = c.cmd('RENAME "z" "x"', tag="rx")
        assert tagged.startswith("rx NO [ALREADYEXISTS]"), tagged
        # RENAME into a new hierarchy creates the superiors.
        c.ok('RENAME "x" "p/q/x"')
        entries = list_entries(c.ok('LIST "" "p*"'))
        assert {"p", "p/q", "p/q/x"} <= set(entries), entries
        # RENAME of INBOX: its messages go to the new mailbox, INBOX stays, empty.
        for i in range(2):
            c.cmd_literals(['APPEND "INBOX" ', Lit(simple(i))])
        c.ok('RENAME "INBOX" "Old Inbox"')
        st = status_of(c.ok('STATUS "INBOX" (MESSAGES)'))
        assert st["INBOX"]["MESSAGES"] == 0, st
        st = status_of(c.ok('STATUS "Old Inbox" (MESSAGES)'))
        assert st["Old Inbox"]["MESSAGES"] == 2, st
        # UIDVALIDITY is never reused for a name (RFC 9051 2.3.1.1).
        c.ok('CREATE "again"')
        v1 = status_of(c.ok('STATUS "again" (UIDVALIDITY)'))["again"]["UIDVALIDITY"]
        c.ok('DELETE "again"')
        c.ok('CREATE "again"')
        v2 = status_of(c.ok('STATUS "again" (UIDVALIDITY)'))["again"]["UIDVALIDITY"]
        assert v1 != v2, (v1, v2)
        # A deleted mailbox's messages are gone with it.
        c.cmd_literals(['APPEND "again" ', Lit(simple(1))])
        c.ok('DELETE "again"')
        c.ok('CREATE "again"')
        assert status_of(c.ok('STATUS "again" (MESSAGES)'))["again"]["MESSAGES"] == 0
    finally:
        c.logout()


@t
def subscribe_and_lsub(f):
    user = f.user()
    c = f.conn(user)
    try:
        c.ok('CREATE "news/tech"')
        c.ok('SUBSCRIBE "news/tech"')
        names = lsub_names(c.ok('LSUB "" "news/*"'))
        assert set(names) == {"news/tech"}, names
        # LSUB "%" shows an unsubscribed parent of a subscribed mailbox as \Noselect (RFC 3501 6.3.9).
        names = lsub_names(c.ok('LSUB "" "news"'))
        assert set(names) <= {"news"}, names
        names = lsub_names(c.ok('LSUB "" "%"'))
        if "news" in names:
            assert "\\NOSELECT" in names["news"], names
        c.ok('UNSUBSCRIBE "news/tech"')
        assert lsub_names(c.ok('LSUB "" "news*"')) == {}
        u, tagged = c.cmd("SUBSCRIBE", tag="bad")
        assert tagged.startswith("bad BAD"), tagged
    finally:
        c.logout()


@t
def status_every_item(f):
    user = f.user()
    c = f.conn(user)
    try:
        msgs = [simple(i, body="x" * (100 * i) + "\r\n") for i in range(1, 4)]
        uids = [append(c, "INBOX", m)[1] for m in msgs]
        append(c, "INBOX", simple(4), flags="\\Seen")
        append(c, "INBOX", simple(5), flags="\\Deleted \\Seen")
        u = c.ok('STATUS "INBOX" (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE HIGHESTMODSEQ RECENT '
                 'APPENDLIMIT)')
        st = status_of(u)["INBOX"]
        sizes = [len(m) for m in msgs] + [len(simple(4)), len(simple(5))]
        assert st["MESSAGES"] == 5, st
        assert st["UNSEEN"] == 3, st
        assert st["DELETED"] == 1, st
        assert st["SIZE"] == sum(sizes), (st, sum(sizes))
        assert st["UIDNEXT"] > uids[-1] + 1, st
        assert st["UIDVALIDITY"] > 0, st
        assert st["HIGHESTMODSEQ"] > 0, st
        assert st["RECENT"] >= 0, st
        assert st["APPENDLIMIT"] == 10 * 1024 * 1024, st
        # STATUS sees what SELECT sees.
        info = select(c, "INBOX", "(CONDSTORE)")
        assert info["EXISTS"] == 5 and int(info["UIDNEXT"]) == st["UIDNEXT"], info
        assert int(info["UIDVALIDITY"]) == st["UIDVALIDITY"], info
        assert int(info["HIGHESTMODSEQ"]) == st["HIGHESTMODSEQ"], info
        u, tagged = c.cmd('STATUS "nothere" (MESSAGES)', tag="n")
        assert tagged.startswith("n NO [NONEXISTENT]"), tagged
        u, tagged = c.cmd('STATUS "INBOX" (BOGUS)', tag="b")
        assert tagged.startswith("b BAD"), tagged
        st = status_of(c.ok('STATUS "Drafts" (MESSAGES SIZE UNSEEN DELETED)'))["Drafts"]
        assert st == {"MESSAGES": 0, "SIZE": 0, "UNSEEN": 0, "DELETED": 0}, st
    finally:
        c.logout()


@t
def select_and_examine(f):
    user = f.user()
    c = f.conn(user)
    try:
        append(c, "INBOX", simple(1), flags="\\Seen")
        v, uid2 = append(c, "INBOX", simple(2), flags="$Work")
        info = select(c, "INBOX")
        assert info["EXISTS"] == 2, info
        assert "READ-WRITE" in info["tagged"], info
        assert int(info["UIDVALIDITY"]) == v, info
        assert int(info["UIDNEXT"]) == uid2 + 1, info
        # RFC 3501 2.3.2: no session has seen the two yet: this one gets them \Recent
        assert untagged_of(info["untagged"], "RECENT") == [b"* 2 RECENT"], info["untagged"]
        assert info.get("UNSEEN") == "2", info       # RFC 3501: first unseen
        flags = {x.upper() for x in info["FLAGS"]}
        assert {"\\ANSWERED", "\\FLAGGED", "\\DELETED", "\\SEEN", "\\DRAFT", "$WORK"} <= flags, flags
        perm = parse(info["PERMANENTFLAGS"])[0]
        assert "\\*" in perm, perm
        # EXAMINE: read-only, and FETCH BODY[] does not set \Seen.
        u, tagged = c.cmd("EXAMINE INBOX", tag="e")
        assert tagged.startswith("e OK [READ-ONLY]"), tagged
        assert any(r.startswith(b"* OK [CLOSED]") for r in u), u   # RFC 7162 3.2.11
        fs = fetches(c.ok("FETCH 2 BODY[]"))
        assert "FLAGS" not in fs[2], fs
        fs = fetches(c.ok("FETCH 2 FLAGS"))
        assert "\\Seen" not in fs[2]["FLAGS"], fs
        u, tagged = c.cmd("STORE 2 +FLAGS (\\Seen)", tag="ro")
        assert tagged.startswith("ro NO"), tagged
        u, tagged = c.cmd("EXPUNGE", tag="rx")
        assert tagged.startswith("rx NO"), tagged
        # SELECT of a missing mailbox leaves no mailbox selected.
        u, tagged = c.cmd('SELECT "nothere"', tag="s")
        assert tagged.startswith("s NO"), tagged
        u, tagged = c.cmd("FETCH 1 FLAGS", tag="f")
        assert tagged.startswith("f BAD"), tagged
        # Sequence numbers past the end are BAD (RFC 3501 9 seq-number).
        select(c, "INBOX")
        u, tagged = c.cmd("FETCH 3 FLAGS", tag="past")
        assert tagged.startswith("past BAD"), tagged
        u = c.ok("UID FETCH 999 FLAGS")
        assert u == [], u
        c.ok("CHECK")
        c.ok("NOOP")
    finally:
        c.logout()


@t
def fetch_every_item(f):
    user = f.user()
    c = f.conn(user)
    try:
        date = "02-Feb-2026 12:34:56 +0100"
        v, uid = append(c, "INBOX", MULTIPART, date=date)
        select(c, "INBOX")
        fs = fetches(c.ok("FETCH 1 (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)"))[1]
        assert int(fs["UID"]) == uid, fs
        assert fs["FLAGS"] == ["\\Recent"], fs   # the first session to see it (RFC 3501 2.3.2)
        assert internaldate_epoch(fs["INTERNALDATE"]) == internaldate_epoch(date), fs
        assert int(fs["RFC822.SIZE"]) == len(MULTIPART), (fs, len(MULTIPART))
        env = fs["ENVELOPE"]
        alice = [[b"Alice Example", None, b"alice", b"example.test"]]
        want = [b"Mon, 02 Feb 2026 10:00:00 +0100", b"=?UTF-8?Q?caf=C3=A9?= report", alice, alice, alice,
                [[b"Bob", None, b"bob", b"example.org"], [None, None, b"carol", b"example.org"]],
                [[None, None, b"dan", b"example.org"]], None, b"<parent@example.test>", b"<mp1@example.test>"]
        assert env == want, "ENVELOPE\n got %r\nwant %r" % (env, want)
        # BODYSTRUCTURE and BODY.
        fs = fetches(c.ok("FETCH 1 (BODYSTRUCTURE BODY)"))[1]
        got = norm_body(fs["BODYSTRUCTURE"], True)
        want = expected_bodystructure(True)
        assert got == want, "BODYSTRUCTURE\n got %r\nwant %r" % (got, want)
        got = norm_body(fs["BODY"], False)
        want = expected_bodystructure(False)
        assert got == want, "BODY\n got %r\nwant %r" % (got, want)
        # Sections (RFC 9051 6.4.5).
        head_end = MULTIPART.index(b"\r\n\r\n") + 4
        sections = {
            "BODY[]": MULTIPART,
            "BODY[HEADER]": MULTIPART[:head_end],
            "BODY[TEXT]": MULTIPART[head_end:],
            "BODY[1]": ALT,
            "BODY[1.MIME]": ALT_MIME,
            "BODY[1.1]": PLAIN_QP,
            "BODY[1.1.MIME]": PLAIN_MIME,
            "BODY[1.2]": HTML,
            "BODY[2]": PDF_B64,
            "BODY[2.MIME]": PDF_MIME,
            "BODY[3]": INNER,
            "BODY[3.HEADER]": INNER_HEAD,
            "BODY[3.TEXT]": INNER_BODY,
            "BODY[3.1]": INNER_BODY,
            "BODY[3.MIME]": MSG_MIME,
        }
        for sec, want in sections.items():
            peek = sec.replace("BODY[", "BODY.PEEK[")
            fs = fetches(c.ok("FETCH 1 (%s)" % peek))[1]
            assert sec in fs, (sec, fs.keys())
            assert fs[sec] == want, "%s:\n got %r\nwant %r" % (sec, fs[sec][:300], want[:300])
        # HEADER.FIELDS and .NOT: the named fields in message order, then CRLF.
        fs = fetches(c.ok("FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject FROM x-none)])"))[1]
        key = [k for k in fs if k.upper().startswith("BODY[HEADER.FIELDS")][0]
        assert fs[key] == (b'From: "Alice Example" <alice@example.test>\r\n'
                           b"Subject: =?UTF-8?Q?caf=C3=A9?= report\r\n\r\n"), fs[key]
        fs = fetches(c.ok("FETCH 1 (BODY.PEEK[HEADER.FIELDS.NOT (Content-Type Message-ID MIME-Version Date "
                          "In-Reply-To Cc)])"))[1]
        key = [k for k in fs if k.upper().startswith("BODY[HEADER.FIELDS.NOT")][0]
        assert fs[key] == (b'From: "Alice Example" <alice@example.test>\r\n'
                           b"To: Bob <bob@example.org>, carol@example.org\r\n"
                           b"Subject: =?UTF-8?Q?caf=C3=A9?= report\r\n\r\n"), fs[key]
        fs = fetches(c.ok("FETCH 1 (BODY.PEEK[3.HEADER.FIELDS (SUBJECT)])"))[1]
        assert list(fs.values())[0] == b"Subject: inner note\r\n\r\n", fs
        # Partial: <origin> in the answer's name; past the end: "".
        fs = fetches(c.ok("FETCH 1 (BODY.PEEK[]<10.20> BODY.PEEK[TEXT]<5.3>)"))[1]
        assert fs["BODY[]<10>"] == MULTIPART[10:30], fs
        assert fs["BODY[TEXT]<5>"] == MULTIPART[head_end + 5:head_end + 8], fs
        fs = fetches(c.ok("FETCH 1 (BODY.PEEK[]<%d.10>)" % (len(MULTIPART) + 5)))[1]
        assert fs["BODY[]<%d>" % (len(MULTIPART) + 5)] == b"", fs
        fs = fetches(c.ok("FETCH 1 (BODY.PEEK[1.1]<%d.1000>)" % (len(PLAIN_QP) - 4)))[1]
        assert fs["BODY[1.1]<%d>" % (len(PLAIN_QP) - 4)] == PLAIN_QP[-4:], fs
        # A part that does not exist: empty (RFC 9051 leaves NIL or "").
        fs = fetches(c.ok("FETCH 1 (BODY.PEEK[9])"))[1]
        assert fs["BODY[9]"] in (b"", None), fs
        # RFC822.* (RFC 3501).
        fs = fetches(c.ok("FETCH 1 (RFC822.HEADER RFC822.SIZE)"))[1]
        assert fs["RFC822.HEADER"] == MULTIPART[:head_end], fs
        fs = fetches(c.ok("FETCH 1 FLAGS"))[1]
        assert fs["FLAGS"] == ["\\Recent"], "RFC822.HEADER set a flag: %r" % fs
        # BINARY (RFC 3516): decoded content; literal8 where it holds NUL.
        fs = fetches(c.ok("FETCH 1 (BINARY.PEEK[1.1] BINARY.SIZE[1.1] BINARY.PEEK[2] BINARY.SIZE[2])"))[1]
        assert fs["BINARY[1.1]"] == PLAIN_DECODED, fs["BINARY[1.1]"]
        assert int(fs["BINARY.SIZE[1.1]"]) == len(PLAIN_DECODED), fs
        assert fs["BINARY[2]"] == PDF, "BINARY[2] differs (%d vs %d bytes)" % (len(fs["BINARY[2]"]), len(PDF))
        assert getattr(fs["BINARY[2]"], "literal8", False), "binary content with NUL not sent as literal8"
        assert int(fs["BINARY.SIZE[2]"]) == len(PDF), fs
        fs = fetches(c.ok("FETCH 1 (BINARY.PEEK[2]<256.10>)"))[1]
        assert fs["BINARY[2]<256>"] == PDF[256:266], fs
        fs = fetches(c.ok("FETCH 1 (BINARY.PEEK[1.2])"))[1]
        assert fs["BINARY[1.2]"] == HTML, fs
        # Fetching BINARY of a multipart is an error or the raw body (RFC 3516 4.2: not decodable).
        u, tagged = c.cmd("FETCH 1 (BINARY.PEEK[1])", tag="bm")
        assert tagged.startswith("bm OK") or tagged.startswith("bm NO") or tagged.startswith("bm BAD"), tagged
        # The macros.
        fs = fetches(c.ok("FETCH 1 FAST"))[1]
        assert set(fs) == {"FLAGS", "INTERNALDATE", "RFC822.SIZE"}, fs
        fs = fetches(c.ok("FETCH 1 ALL"))[1]
        assert set(fs) == {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"}, fs
        fs = fetches(c.ok("FETCH 1 FULL"))[1]
        assert set(fs) == {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"}, fs
        # MODSEQ (RFC 7162) on demand.
        fs = fetches(c.ok("FETCH 1 (MODSEQ)"))[1]
        assert isinstance(fs["MODSEQ"], list) and int(fs["MODSEQ"][0]) > 0, fs
        # UID FETCH always carries the UID.
        fs = fetches(c.ok("UID FETCH %d (FLAGS)" % uid))[1]
        assert int(fs["UID"]) == uid, fs
        # BODY[] without PEEK sets \Seen and says so (RFC 9051 6.4.5).
        fs = fetches(c.ok("FETCH 1 (BODY[TEXT])"))[1]
        assert fs["BODY[TEXT]"] == MULTIPART[head_end:], "BODY[TEXT] differs"
        assert "\\Seen" in fs.get("FLAGS", []), fs.keys()
        fs = fetches(c.ok("FETCH 1 (RFC822)"))[1]
        assert fs["RFC822"] == MULTIPART
        fs = fetches(c.ok("FETCH 1 (RFC822.TEXT)"))[1]
        assert fs["RFC822.TEXT"] == MULTIPART[head_end:]
        # Bad FETCH commands.
        for bad in ("FETCH 1 (NOTANITEM)", "FETCH 1 BODY[", "FETCH 0 FLAGS", "FETCH 1 (BODY[HEADER.FIELDS])",
                    "FETCH x FLAGS", "FETCH 1"):
            u, tagged = c.cmd(bad, tag="bad")
            assert tagged.startswith("bad BAD"), (bad, tagged)
        # imaplib agrees.
    finally:
        c.logout()
    m = imaplib_client(f.srv, user)
    try:
        check(m.select("INBOX", readonly=True))
        typ, data = m.fetch("1", "(BODY.PEEK[])")
        assert typ == "OK" and data[0][1] == MULTIPART, data[0][0]
        typ, data = m.uid("FETCH", str(uid), "(RFC822.SIZE)")
        assert typ == "OK" and b"RFC822.SIZE %d" % len(MULTIPART) in data[0], data
    finally:
        m.logout()


@t
def store_flags(f):
    user = f.user()
    c = f.conn(user)
    try:
        for i in range(1, 4):
            append(c, "INBOX", simple(i))
        select(c, "INBOX")      # the first session: all three are \Recent here (RFC 3501 2.3.2)
        u = c.ok("STORE 1 +FLAGS (\\Flagged $Work)")
        fs = fetches(u)
        assert list(fs) == [1] and set(fs[1]["FLAGS"]) == {"\\Recent", "\\Flagged", "$Work"}, u
        u = c.ok("STORE 1:2 +FLAGS.SILENT (\\Seen)")
        assert untagged_of(u, "FETCH") == [], u
        fs = fetches(c.ok("FETCH 1:3 FLAGS"))
        assert set(fs[1]["FLAGS"]) == {"\\Recent", "\\Flagged", "$Work", "\\Seen"}, fs
        assert fs[2]["FLAGS"] == ["\\Recent", "\\Seen"] and fs[3]["FLAGS"] == ["\\Recent"], fs
        u = c.ok("STORE 1 -FLAGS (\\Flagged)")
        assert set(fetches(u)[1]["FLAGS"]) == {"\\Recent", "$Work", "\\Seen"}, u
        u = c.ok("STORE 2 FLAGS (\\Answered \\Draft)")     # \Recent is not the client's to clear
        assert set(fetches(u)[2]["FLAGS"]) == {"\\Recent", "\\Answered", "\\Draft"}, u
        # A STORE that changes nothing: a FETCH is "normal" (RFC 9051 6.4.6), not required.
        u = c.ok("STORE 3 FLAGS ()")
        assert fetches(u).get(3, {"FLAGS": ["\\Recent"]})["FLAGS"] == ["\\Recent"], u
        # UID STORE answers with the UID (RFC 9051 6.4.9).
        uid3 = int(fetches(c.ok("FETCH 3 UID"))[3]["UID"])
        u = c.ok("UID STORE %d +FLAGS ($Label1)" % uid3)
        fs = fetches(u)
        assert int(fs[3]["UID"]) == uid3 and fs[3]["FLAGS"] == ["\\Recent", "$Label1"], u
        # Flag names are case-insensitive; keywords listed in FLAGS after SELECT.
        c.ok("STORE 3 +FLAGS (\\seen)")
        assert set(fetches(c.ok("FETCH 3 FLAGS"))[3]["FLAGS"]) == {"\\Recent", "\\Seen", "$Label1"}
        info = select(c, "INBOX")
        assert {"$WORK", "$LABEL1"} <= {x.upper() for x in info["FLAGS"]}, info
        # Bad STORE commands.
        for bad in ("STORE 1 FLAGS", "STORE 1 XFLAGS (\\Seen)", "STORE 9 +FLAGS (\\Seen)", "STORE 1 +FLAGS (\\Seen"):
            u, tagged = c.cmd(bad, tag="bad")
            assert tagged.startswith("bad BAD"), (bad, tagged)
    finally:
        c.logout()


@t
def copy_and_move(f):
    user = f.user()
    c = f.conn(user)
    try:
        msgs = [simple(i) for i in range(1, 5)]
        uids = [append(c, "INBOX", m, flags="$M%d" % i)[1] for i, m in enumerate(msgs)]
        select(c, "INBOX")
        av = status_of(c.ok('STATUS "Archive" (UIDVALIDITY UIDNEXT)'))["Archive"]
        u, tagged = c.ok_tagged("COPY 1:2 Archive")
        m = re.search(r"\[COPYUID (\d+) (\S+) (\S+)\]", tagged)
        assert m, tagged
        assert int(m.group(1)) == av["UIDVALIDITY"], (tagged, av)
        assert expand_set(m.group(2)) == uids[:2], tagged
        dst = expand_set(m.group(3))
        assert len(dst) == 2 and dst[0] >= av["UIDNEXT"], tagged
        u, tagged = c.cmd("COPY 1 nothere", tag="tc")
        assert tagged.startswith("tc NO [TRYCREATE]"), tagged
        # The copies keep content and flags.
        c2 = f.conn(user)
        try:
            c2.ok("EXAMINE Archive")
            fs = fetches(c2.ok("UID FETCH %d:%d (BODY.PEEK[] FLAGS)" % (dst[0], dst[1])))
            assert [fs[s]["BODY[]"] for s in sorted(fs)] == msgs[:2]
            # copies are new messages: \Recent for the first session to see them
            assert [fs[s]["FLAGS"] for s in sorted(fs)] == [["\\Recent", "$M0"], ["\\Recent", "$M1"]], fs
        finally:
            c2.logout()
        # MOVE (RFC 6851): COPYUID untagged before the expunges.
        u, tagged = c.ok_tagged("MOVE 2:3 Trash")
        assert tagged.split()[1] == "OK", tagged
        cu = [r for r in u if r.startswith(b"* OK [COPYUID ")]
        assert len(cu) == 1, u
        mm = re.match(rb"\* OK \[COPYUID (\d+) (\S+) (\S+)\]", cu[0])
        assert expand_set(mm.group(2).decode()) == uids[1:3], cu
        assert u.index(cu[0]) < min(u.index(r) for r in untagged_of(u, "EXPUNGE")), u
        view = list(uids)
        removed = apply_expunges(view, u)
        assert sorted(removed) == uids[1:3] and view == [uids[0], uids[3]], (u, view)
        # UID MOVE.
        u = c.ok("UID MOVE %d Junk" % uids[3])
        assert apply_expunges(view, u) == [uids[3]], u
        st = status_of(c.ok('STATUS "Trash" (MESSAGES)'))
        assert st["Trash"]["MESSAGES"] == 2, st
        assert status_of(c.ok('STATUS "INBOX" (MESSAGES)'))["INBOX"]["MESSAGES"] == 1
        u, tagged = c.cmd("MOVE 1 nothere", tag="mt")
        assert tagged.startswith("mt NO [TRYCREATE]"), tagged
        # UID COPY of UIDs that are not there: OK, nothing copied.
        u, tagged = c.cmd("UID COPY 99999 Archive", tag="none")
        assert tagged.startswith("none OK") and "COPYUID" not in tagged, tagged
    finally:
        c.logout()


@t
def expunge_and_uid_expunge(f):
    user = f.user()
    c = f.conn(user)
    try:
        uids = [append(c, "INBOX", simple(i))[1] for i in range(1, 7)]
        select(c, "INBOX")
        c.ok("STORE 2,4,5 +FLAGS.SILENT (\\Deleted)")
        view = list(uids)
        u = c.ok("UID EXPUNGE %d:%d" % (uids[3], uids[5]))   # only 4 and 5 of the \Deleted
        assert sorted(apply_expunges(view, u)) == [uids[3], uids[4]], u
        u = c.ok("EXPUNGE")
        assert apply_expunges(view, u) == [uids[1]], u
        assert view == [uids[0], uids[2], uids[5]]
        fs = fetches(c.ok("FETCH 1:* UID"))
        assert [int(fs[s]["UID"]) for s in sorted(fs)] == view, fs
        u = c.ok("EXPUNGE")
        assert u == [], u
        # CLOSE expunges silently; UNSELECT does not expunge.
        c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        u = c.ok("UNSELECT")
        assert untagged_of(u, "EXPUNGE") == [], u
        info = select(c, "INBOX")
        assert info["EXISTS"] == 3, info
        u = c.ok("CLOSE")
        assert untagged_of(u, "EXPUNGE") == [], u
        u, tagged = c.cmd("FETCH 1 FLAGS", tag="nosel")
        assert tagged.startswith("nosel BAD"), tagged
        info = select(c, "INBOX")
        assert info["EXISTS"] == 2, info
        # CLOSE after EXAMINE does not expunge.
        c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        c.ok("EXAMINE INBOX")
        c.ok("CLOSE")
        assert select(c, "INBOX")["EXISTS"] == 2
        u, tagged = c.cmd("UNSELECT", tag="x")
        assert tagged.startswith("x OK"), tagged
        u, tagged = c.cmd("UNSELECT", tag="y")
        assert tagged.startswith("y BAD"), tagged
    finally:
        c.logout()


SEARCH_MSGS = [
    (b"From: Alice <alice@example.test>\r\nTo: bob@example.org\r\nSubject: alpha report\r\n"
     b"Date: Wed, 10 Jan 2024 10:00:00 +0000\r\nMessage-ID: <s1@example.test>\r\n\r\n"
     b"the quick brown fox\r\n", "10-Jan-2024 10:00:00 +0000"),
    (b"From: Bob <bob@example.org>\r\nTo: alice@example.test\r\nSubject: beta\r\n"
     b"Date: Sat, 10 Feb 2024 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
     b"Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
     base64.encodebytes(b"meet me at the zebra crossing at noon\r\n" * 40).replace(b"\n", b"\r\n"),
     "10-Feb-2024 10:00:00 +0000"),
    (b"From: Carol <carol@example.org>\r\nTo: alice@example.test\r\n"
     b"Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus Berlin\r\n"
     b"Date: Sun, 10 Mar 2024 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
     b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
     b"Die Fa=C3=A7ade ist sch=C3=B6n.\r\n", "10-Mar-2024 10:00:00 +0000"),
    (b"From: Dan <dan@example.org>\r\nTo: alice@example.test\r\nSubject: gamma\r\n"
     b"Date: Wed, 10 Apr 2024 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
     b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
     b"cr\xe8me br\xfbl\xe9e\r\n", "10-Apr-2024 10:00:00 +0000"),
]


@t
def search_and_esearch(f):
    user = f.user()
    c = f.conn(user)
    try:
        uids = []
        for i, (m, d) in enumerate(SEARCH_MSGS):
            uids.append(append(c, "INBOX", m, flags="\\Flagged" if i in (1, 3) else None, date=d)[1])
        select(c, "INBOX")
        c.ok("STORE 1 +FLAGS.SILENT (\\Seen)")

        def s(crit, tag=None):
            return search_numbers(c.ok("SEARCH " + crit, tag=tag))

        assert s("ALL") == [1, 2, 3, 4]
        assert s("SUBJECT alpha") == [1]
        assert s("FROM bob") == [2]
        assert s("TO alice@example.test") == [2, 3, 4]
        assert s('HEADER Message-ID "<s1@example.test>"') == [1]
        assert s("UNSEEN") == [2, 3, 4]
        assert s("SEEN") == [1]
        assert s("FLAGGED") == [2, 4]
        assert s("UNFLAGGED UNSEEN") == [3]
        assert s("OR FROM alice FROM carol") == [1, 3]
        assert s("NOT FROM bob") == [1, 3, 4]
        assert s("(FLAGGED SUBJECT gamma)") == [4]
        assert s("2:3") == [2, 3]
        assert s("UID %d:%d" % (uids[2], uids[3])) == [3, 4]
        sizes = [len(m) for m, d in SEARCH_MSGS]
        assert s("LARGER %d" % (sizes[1] - 1)) == [2]
        assert s("LARGER %d" % sizes[1]) == []
        assert s("SMALLER %d" % (sizes[0] + 1)) == [i + 1 for i, n in enumerate(sizes) if n <= sizes[0]]
        # Internal date (APPEND's) and the Date header.
        assert s("SINCE 1-Mar-2024") == [3, 4]
        assert s("BEFORE 10-Feb-2024") == [1]
        assert s("ON 10-Feb-2024") == [2]
        assert s("SENTBEFORE 1-Feb-2024") == [1]
        assert s("SENTSINCE 10-Mar-2024") == [3, 4]
        assert s("SENTON 10-Apr-2024") == [4]
        # BODY and TEXT search decoded text, case-insensitively.
        assert s("BODY zebra") == [2], "base64 body not decoded for BODY"
        assert s("TEXT ZEBRA") == [2]
        assert s("BODY fox") == [1]
        assert s("TEXT beta") == [2], "TEXT covers the header"
        assert s("BODY beta") == [], "BODY must not search the header"
        u, tagged, sent = c.cmd_literals(["SEARCH CHARSET UTF-8 BODY ", Lit("Façade".encode())])
        assert " OK" in tagged and search_numbers(u) == [3], (u, tagged)
        u, tagged, sent = c.cmd_literals(["SEARCH CHARSET UTF-8 BODY ", Lit("CRÈME".encode())])
        assert " OK" in tagged and search_numbers(u) == [4], "iso-8859-1 body not converted: %r %r" % (u, tagged)
        u, tagged, sent = c.cmd_literals(["SEARCH CHARSET UTF-8 SUBJECT ", Lit("grüße".encode())])
        assert " OK" in tagged and search_numbers(u) == [3], "RFC 2047 subject: %r %r" % (u, tagged)
        assert search_numbers(c.ok("SEARCH CHARSET US-ASCII SUBJECT beta")) == [2]
        u, tagged = c.cmd("SEARCH CHARSET X-NOPE ALL", tag="cs")
        assert tagged.startswith("cs NO [BADCHARSET"), tagged
        u, tagged = c.cmd("SEARCH FROBNICATE", tag="bk")
        assert tagged.startswith("bk BAD"), tagged
        # UID SEARCH answers UIDs.
        assert search_numbers(c.ok("UID SEARCH FLAGGED")) == [uids[1], uids[3]]
        # ESEARCH (RFC 4731).
        tag, uid, r = esearch(c.ok("SEARCH RETURN (MIN MAX COUNT ALL) ALL", tag="es1"))
        assert tag == "es1" and not uid, (tag, uid)
        assert r == {"MIN": "1", "MAX": "4", "COUNT": "4", "ALL": "1:4"}, r
        tag, uid, r = esearch(c.ok("UID SEARCH RETURN (COUNT MIN) FLAGGED", tag="es2"))
        assert tag == "es2" and uid and r == {"COUNT": "2", "MIN": str(uids[1])}, (tag, uid, r)
        tag, uid, r = esearch(c.ok("SEARCH RETURN () FLAGGED", tag="es3"))
        assert expand_set(r["ALL"]) == [2, 4], r
        tag, uid, r = esearch(c.ok("SEARCH RETURN (MIN MAX) SUBJECT nothing-matches", tag="es4"))
        assert r == {}, r
        # SEARCHRES (RFC 5182): SAVE alone gives no ESEARCH; "$" is the result.
        u = c.ok("SEARCH RETURN (SAVE) FROM bob")
        assert untagged_of(u, "ESEARCH") == [] and untagged_of(u, "SEARCH") == [], u
        fs = fetches(c.ok("FETCH $ (UID)"))
        assert list(fs) == [2], fs
        # SAVE with MIN alone saves the MIN only (RFC 5182 2.1); with COUNT, all.
        u = c.ok("UID SEARCH RETURN (SAVE MIN) FLAGGED")
        assert esearch(u)[2] == {"MIN": str(uids[1])}, u
        fs = fetches(c.ok("UID FETCH $ (FLAGS)"))
        assert sorted(fs) == [2], fs
        u = c.ok("UID SEARCH RETURN (SAVE COUNT) FLAGGED")
        assert esearch(u)[2] == {"COUNT": "2"}, u
        fs = fetches(c.ok("UID FETCH $ (FLAGS)"))
        assert sorted(fs) == [2, 4], fs
        assert search_numbers(c.ok("SEARCH $ SUBJECT gamma")) == [4]
        assert search_numbers(c.ok("SEARCH OR $ 1")) == [1, 2, 4]
        c.ok("STORE $ +FLAGS.SILENT (\\Answered)")
        assert s("ANSWERED") == [2, 4]
        # A failed search saves the empty result (RFC 5182 2.1).
        c.ok("SEARCH RETURN (SAVE) SUBJECT nothing-matches")
        assert fetches(c.ok("UID FETCH $ (FLAGS)")) == {}
    finally:
        c.logout()
    m = imaplib_client(f.srv, user)
    try:
        check(m.select("INBOX"))
        typ, data = m.search(None, "FROM", "carol")
        assert typ == "OK" and data == [b"3"], data
    finally:
        m.logout()


@t
def quota(f):
    user = f.user(quota="10M")
    c = f.conn(user)
    try:
        msgs = [simple(i, body="q" * 3000 + "\r\n") for i in range(3)]
        for m in msgs:
            append(c, "INBOX", m)
        u = c.ok('GETQUOTAROOT "INBOX"')
        qr = untagged_of(u, "QUOTAROOT")
        assert len(qr) == 1, u
        v = parse(qr[0][len(b"* QUOTAROOT "):])
        assert v[0] in (b"INBOX", "INBOX") and len(v) == 2, v
        root = v[1]
        qs = untagged_of(u, "QUOTA")
        assert len(qs) == 1, u
        v = parse(qs[0][len(b"* QUOTA "):])
        assert v[0] == root, v
        res = {k.upper(): (int(a), int(b)) for k, a, b in zip(v[1][0::3], v[1][1::3], v[1][2::3])}
        used = sum(len(m) for m in msgs)
        assert res["STORAGE"][1] == 10 * 1024, res
        assert res["STORAGE"][0] in (used // 1024, (used + 1023) // 1024), (res, used)
        if "MESSAGE" in res:
            assert res["MESSAGE"][0] == 3, res
        rootarg = root.decode() if isinstance(root, bytes) else root
        u = c.ok('GETQUOTA "%s"' % rootarg)
        assert untagged_of(u, "QUOTA") == qs, u
        u, tagged = c.cmd('GETQUOTAROOT "nothere"', tag="n")
        assert tagged.startswith("n NO"), tagged
        u, tagged = c.cmd('GETQUOTA "no-such-root"', tag="nr")
        assert tagged.startswith("nr NO"), tagged
    finally:
        c.logout()


@t
def logout(f):
    user = f.user()
    c = f.conn(user)
    c.send("z LOGOUT\r\n")
    u, tagged = c.read_until_tagged("z")
    assert any(r.startswith(b"* BYE") for r in u), u
    assert tagged.startswith("z OK"), tagged
    assert c.closed(), "connection not closed after LOGOUT"
    c.close()
    # Before login too.
    c = f.conn()
    u, tagged = c.cmd("LOGOUT", tag="q")
    assert u[0].startswith(b"* BYE") and tagged.startswith("q OK"), (u, tagged)
    assert c.closed()
    c.close()


@t
def unknown_and_malformed_commands(f):
    user = f.user()
    c = f.conn(user)
    try:
        for bad in ("FROB", "SELECT", "SELECT INBOX extra", "NOOP extra", "UID FROB 1", "UID", "CAPABILITY x",
                    "LIST", 'LIST ""', "STATUS INBOX", "CREATE"):
            u, tagged = c.cmd(bad, tag="bad1")
            assert tagged.startswith("bad1 BAD"), (bad, tagged)
        c.send("\r\n")           # empty line: ignored or BAD, but the session stays in sync
        c.send("noTag\r\n")
        r = c.response()
        assert r.startswith(b"* BAD") or r.startswith(b"noTag BAD"), r
        c.ok("noop")             # command names are case-insensitive
    finally:
        c.logout()


@t
def non_ascii_mailbox_names(f):
    user = f.user()
    names = ["Entwürfe", "日本語", "été/sous-dossier", "a&b"]
    c = f.conn(user)
    rev2 = f.conn(user)
    try:
        for n in names:
            c.ok('CREATE "%s"' % mutf7(n))
        assert mutf7("été") == "&AOk-t&AOk-" and mutf7("a&b") == "a&-b"
        entries = list_entries(c.ok('LIST "" "*"'))
        for n in names + ["été"]:
            assert mutf7(n) in entries, (n, sorted(entries))
        # IMAP4rev2 (RFC 9051 5.1): UTF-8 names on the wire.
        rev2.ok("ENABLE IMAP4rev2")
        u = rev2.ok('LIST "" "*"')
        entries = {}
        for r in untagged_of(u, "LIST"):
            v = parse(r[len(b"* LIST "):])
            entries[v[2].decode("utf-8") if isinstance(v[2], bytes) else v[2]] = v
        for n in names + ["été"]:
            assert n in entries, (n, sorted(entries))
        rev2.ok('CREATE "Ελληνικά"'.encode())
        entries = list_entries(c.ok('LIST "" "*"'))
        assert mutf7("Ελληνικά") in entries, sorted(entries)
        # The same mailbox both ways.
        rev2.cmd_literals([b'APPEND "\xc3\xa9t\xc3\xa9/sous-dossier" ', Lit(simple(1))])
        st = status_of(c.ok('STATUS "%s" (MESSAGES)' % mutf7("été/sous-dossier")))
        assert st[mutf7("été/sous-dossier")]["MESSAGES"] == 1, st
        info = select(c, mutf7("日本語"))
        assert info["EXISTS"] == 0, info
        u = rev2.ok('SELECT "日本語"'.encode())
        lst = untagged_of(u, "LIST")
        assert lst and parse(lst[0][len(b"* LIST "):])[2] == "日本語".encode(), u
        c.ok('RENAME "%s" "%s"' % (mutf7("Entwürfe"), mutf7("Brouillons é")))
        assert mutf7("Brouillons é") in list_entries(c.ok('LIST "" "Brouillons*"'))
        # Invalid modified UTF-7 (unterminated, 8-bit in a rev1 session's
        # quoted string aside, which RFC 9051 lets servers take as UTF-8).
        for bad in ("&Jjo", "&AOk", "&U,BTFw-&ZeVnLIqe-"):
            u, tagged = c.cmd('CREATE "%s"' % bad, tag="inv")
            assert tagged.startswith("inv BAD") or tagged.startswith("inv NO"), (bad, tagged)
        # imaplib with modified UTF-7 names.
        m = imaplib_client(f.srv, user)
        try:
            typ, data = m.list('""', '"*"')
            assert typ == "OK" and any(mutf7("日本語").encode() in d for d in data), data
            check(m.select('"%s"' % mutf7("日本語")))
        finally:
            m.logout()
    finally:
        c.logout()
        rev2.logout()


@t
def curl_imap_and_imaps(f):
    user = f.user()
    c = f.conn(user)
    try:
        msgs = [simple(1), simple(2, body="second message body\r\n")]
        uids = [append(c, "INBOX", m)[1] for m in msgs]
        c.ok('CREATE "Lists/curl"')
    finally:
        c.logout()
    srv = f.srv
    auth = "%s:%s" % (user, PASSWORD)
    # List mailboxes.
    r = curl("--user", auth, "imap://%s:%d/" % (HOST, srv.port("imap")))
    assert r.returncode == 0, r.stderr
    listing = r.stdout.decode()
    for name in list(DEFAULT_MAILBOXES) + ["Lists/curl"]:
        assert re.search(r'^\* LIST \([^)]*\) "/" "?%s"?\r?$' % re.escape(name), listing, re.M), (name, listing)
    # Fetch a message by UID, over imaps and over STARTTLS.
    r = curl("--user", auth, "imaps://%s:%d/INBOX;UID=%d" % (HOST, srv.port("imaps"), uids[1]))
    assert r.returncode == 0, r.stderr
    assert r.stdout == msgs[1], r.stdout
    r = curl("--ssl-reqd", "--user", auth, "imap://%s:%d/INBOX;UID=%d" % (HOST, srv.port("imap"), uids[0]))
    assert r.returncode == 0, r.stderr
    assert r.stdout == msgs[0], r.stdout
    # A custom command (curl -X) and a wrong password.
    r = curl("--user", auth, "-X", 'STATUS "INBOX" (MESSAGES)', "imaps://%s:%d/" % (HOST, srv.port("imaps")))
    assert r.returncode == 0 and b"MESSAGES 2" in r.stdout, (r.stdout, r.stderr)
    r = curl("--user", "%s:wrong" % user, "imaps://%s:%d/INBOX;UID=1" % (HOST, srv.port("imaps")))
    assert r.returncode != 0


@t
def delivered_mail_is_visible(f):
    user = f.user()
    m = message(subject="by smtp", to=user, body="delivered\r\n")
    assert deliver(f.srv, user, m) == {}
    c = f.conn(user)
    try:
        info = select(c, "INBOX")
        assert info["EXISTS"] == 1, info
        fs = fetches(c.ok("FETCH 1 (BODY.PEEK[] RFC822.SIZE INTERNALDATE)"))[1]
        assert_delivered_exact(fs["BODY[]"], m)
        assert int(fs["RFC822.SIZE"]) == len(fs["BODY[]"]), fs
        assert abs(internaldate_epoch(fs["INTERNALDATE"]) - time.time()) < 600, fs
    finally:
        c.logout()


@t
def sequence_set_edges(f):
    user = f.user()
    c = f.conn(user)
    try:
        uids = [append(c, "INBOX", simple(i))[1] for i in range(1, 4)]
        select(c, "INBOX")
        # 4294967295 is the largest nz-number (RFC 9051 9), a valid UID.
        for cmd, want in (("UID FETCH 1:4294967295 (UID)", uids), ("UID FETCH 4294967295:1 (UID)", uids),
                          ("UID FETCH %d:* (UID)" % uids[1], uids[1:]), ("UID FETCH *:%d (UID)" % uids[2], uids[2:]),
                          ("FETCH 1,1,1:1 (UID)", uids[:1]), ("FETCH 3:2 (UID)", uids[1:]),
                          ("FETCH * (UID)", uids[2:]), ("UID FETCH 4294967295 (UID)", [])):
            u, tagged = c.cmd(cmd, tag="set")
            assert tagged.startswith("set OK"), (cmd, tagged)
            fs = fetches(u)
            assert sorted(int(x["UID"]) for x in fs.values()) == want, (cmd, u)
        # RFC 9051 6.4.8: "*" in a UID range is the highest UID, so n:* always holds it.
        u = c.ok("UID SEARCH UID 4294967295")
        assert search_numbers(u) == [], u
        u = c.ok("UID SEARCH UID 1:4294967295")
        assert search_numbers(u) == uids, u
        for bad in ("UID FETCH 4294967296 (UID)", "UID FETCH 0 (UID)", "FETCH 0:1 (UID)", "FETCH 1: (UID)",
                    "FETCH 1,,2 (UID)", "FETCH -1 (UID)", "FETCH 4 (UID)"):
            u, tagged = c.cmd(bad, tag="badset")
            assert tagged.startswith("badset BAD"), (bad, tagged)
        # "$" before any SEARCH ... SAVE is the empty set (RFC 5182 2.1).
        assert fetches(c.ok("FETCH $ (UID)")) == {}
        # An empty mailbox: UID sets are empty, sequence numbers BAD (RFC 9051 9, seq-number).
        c.ok('CREATE "empty"')
        select(c, "empty")
        assert c.ok("UID FETCH 1:* (UID)") == []
        u, tagged = c.cmd("FETCH 1:* (UID)", tag="emp")
        assert tagged.startswith("emp BAD"), tagged
        assert search_numbers(c.ok("SEARCH ALL")) == []
    finally:
        c.logout()


FOLDED = (b"Received: from a.example by b.example;\r\n\tMon, 02 Feb 2026 10:00:00 +0000\r\n"
          b"Subject: a folded\r\n  subject line\r\n"
          b"received: from c.example by d.example; Mon, 02 Feb 2026 09:00:00 +0000\r\n"
          b"X-Empty:\r\n"
          b"From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.org>\r\n\r\nbody\r\n")


@t
def header_fields_folded_and_repeated(f):
    user = f.user()
    c = f.conn(user)
    try:
        append(c, "INBOX", FOLDED)
        select(c, "INBOX")
        fs = fetches(c.ok("FETCH 1 (BODY.PEEK[HEADER.FIELDS (RECEIVED x-empty)] ENVELOPE)"))[1]
        key = [k for k in fs if k.upper().startswith("BODY[HEADER.FIELDS")][0]
        assert fs[key] == (b"Received: from a.example by b.example;\r\n\tMon, 02 Feb 2026 10:00:00 +0000\r\n"
                           b"received: from c.example by d.example; Mon, 02 Feb 2026 09:00:00 +0000\r\n"
                           b"X-Empty:\r\n\r\n"), fs[key]
        env = fs["ENVELOPE"]
        # Unfolding removes CRLF only (RFC 5322 2.2.3); encoded words stay encoded.
        assert env[1] == b"a folded  subject line", env
        assert env[2] == [[b"=?ISO-8859-1?Q?Andr=E9?=", None, b"andre", b"example.org"]], env
        assert env[0] is None and env[5] is None and env[9] is None, env
        fs = fetches(c.ok("FETCH 1 (BODY.PEEK[HEADER.FIELDS.NOT (Received From X-EMPTY)])"))[1]
        assert list(fs.values())[0] == b"Subject: a folded\r\n  subject line\r\n\r\n", fs
        assert search_numbers(c.ok("SEARCH SUBJECT \"folded  subject\"")) == [1]
        assert search_numbers(c.ok("SEARCH HEADER RECEIVED c.example")) == [1]
    finally:
        c.logout()


@t
def restart_keeps_uids_flags_and_modseq(f):
    srv = f.server(users=("alice@example.test",))
    c = Conn(srv.port("imap")).login("alice@example.test")
    try:
        uids = [append(c, "INBOX", simple(i))[1] for i in range(1, 4)]
        c.ok('CREATE "Kept/Sub"')
        c.ok('SUBSCRIBE "Kept/Sub"')
        info = select(c, "INBOX", "(CONDSTORE)")
        c.ok("STORE 2 +FLAGS ($Label \\Flagged)")
        c.ok("STORE 3 +FLAGS.SILENT (\\Deleted)")
        c.ok("EXPUNGE")
        st = status_of(c.ok('STATUS INBOX (UIDVALIDITY UIDNEXT HIGHESTMODSEQ MESSAGES)'))["INBOX"]
    finally:
        c.logout()
    assert srv.stop() == 0
    srv.start()
    c = Conn(srv.port("imap")).login("alice@example.test")
    try:
        assert status_of(c.ok('STATUS INBOX (UIDVALIDITY UIDNEXT HIGHESTMODSEQ MESSAGES)'))["INBOX"] == st
        select(c, "INBOX")
        fs = fetches(c.ok("FETCH 1:* (UID FLAGS)"))
        assert [int(fs[s]["UID"]) for s in sorted(fs)] == uids[:2], fs
        assert set(fs[2]["FLAGS"]) == {"$Label", "\\Flagged"}, fs
        assert "Kept/Sub" in lsub_names(c.ok('LSUB "" "*"'))
        # UIDs are never reused, even for the expunged last message.
        assert append(c, "INBOX", simple(9))[1] == st["UIDNEXT"] > uids[2]
    finally:
        c.logout()


run()
