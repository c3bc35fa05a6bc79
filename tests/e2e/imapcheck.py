"""Shared helpers for the IMAP end-to-end tests (test_imap*.py): a raw
IMAP client that shows every byte the server sends (literals, literal8,
continuation requests, COMPRESS=DEFLATE), a parser for response data
(lists, strings, literals, NIL, FETCH items), an imaplib login, and a
shared server whose cases each get their own fresh user.

(harness.py is the lead's; this file only builds on it and mailcheck.py.)"""

import atexit
import base64
import calendar
import imaplib
import itertools
import os
import re
import socket
import ssl
import time
import zlib

from harness import PASSWORD, Server, client_tls
from mailcheck import HOST, TLS_NAME, sanitizer_report, stop_and_check

ALICE = "alice@example.test"
DEFAULT_MAILBOXES = {"INBOX": None, "Drafts": "\\Drafts", "Sent": "\\Sent", "Trash": "\\Trash",
                     "Junk": "\\Junk", "Archive": "\\Archive"}


def b64(s):
    if isinstance(s, str):
        s = s.encode()
    return base64.b64encode(s).decode()


class ImapError(AssertionError):
    pass


# --- response parsing ----------------------------------------------------

ATOM_END = b" ()\r\n"


class Parser:
    """Parses IMAP response data (RFC 9051 section 9): atoms come back as
    str, quoted strings and literals as bytes, NIL as None, lists as
    Python lists.  An atom holding "[" runs to the matching "]" with
    whatever is inside (BODY[HEADER.FIELDS (FROM)]<0>)."""

    def __init__(self, data):
        self.d = data
        self.i = 0

    def at_end(self):
        return self.i >= len(self.d)

    def skip_sp(self):
        while self.i < len(self.d) and self.d[self.i:self.i + 1] == b" ":
            self.i += 1

    def value(self):
        self.skip_sp()
        d, i = self.d, self.i
        c = d[i:i + 1]
        if c == b"(":
            self.i += 1
            out = []
            while True:
                self.skip_sp()
                if self.d[self.i:self.i + 1] == b")":
                    self.i += 1
                    return out
                if self.at_end():
                    raise ImapError("unterminated list in %r" % d)
                out.append(self.value())
        if c == b'"':
            j = i + 1
            out = bytearray()
            while d[j:j + 1] != b'"':
                if j >= len(d):
                    raise ImapError("unterminated quoted string in %r" % d)
                if d[j:j + 1] == b"\\":
                    j += 1
                out += d[j:j + 1]
                j += 1
            self.i = j + 1
            return bytes(out)
        m = re.match(rb"~?\{(\d+)\+?\}\r\n", d[i:])
        if m:
            n = int(m.group(1))
            start = i + m.end()
            self.i = start + n
            return Literal(d[start:start + n], literal8=d[i:i + 1] == b"~")
        j = i
        while j < len(d) and d[j:j + 1] not in (b" ", b"(", b")", b"\r", b"\n"):
            if d[j:j + 1] == b"[":
                k = d.index(b"]", j)
                j = k + 1
                continue
            j += 1
        if j == i:
            raise ImapError("unexpected %r at %d in %r" % (c, i, d))
        self.i = j
        atom = d[i:j].decode("utf-8", "replace")
        return None if atom.upper() == "NIL" else atom

    def values(self):
        out = []
        while True:
            self.skip_sp()
            if self.at_end():
                return out
            out.append(self.value())


class Literal(bytes):
    """A string that came as a literal ({n} or ~{n})."""

    def __new__(cls, data, literal8=False):
        o = bytes.__new__(cls, data)
        o.literal8 = literal8
        return o


def parse(data):
    if isinstance(data, str):
        data = data.encode()
    return Parser(data).values()


def fetch_items(resp):
    """'* 3 FETCH (UID 7 FLAGS (\\Seen))' -> (3, {'UID': '7', 'FLAGS': [...]})."""
    m = re.match(rb"\* (\d+) FETCH ", resp)
    if not m:
        raise ImapError("not a FETCH response: %r" % resp[:200])
    lst = Parser(resp[m.end():]).value()
    if len(lst) % 2:
        raise ImapError("odd FETCH item list: %r" % resp[:300])
    items = {}
    for k, v in zip(lst[0::2], lst[1::2]):
        items[k.upper() if "[" not in k else k] = v
    return int(m.group(1)), items


def upper_strs(v):
    """Structures with every string/atom upper-cased (for case-insensitive
    comparisons of BODYSTRUCTURE types and parameter names)."""
    if isinstance(v, list):
        return [upper_strs(x) for x in v]
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace").upper()
    if isinstance(v, str):
        return v.upper()
    return v


def internaldate_epoch(s):
    """'01-Feb-2024 10:20:30 +0100' (as bytes or str) -> unix time."""
    if isinstance(s, bytes):
        s = s.decode()
    t = time.strptime(s.strip()[:20].strip(), "%d-%b-%Y %H:%M:%S")
    zone = s.strip()[-5:]
    off = (int(zone[1:3]) * 3600 + int(zone[3:5]) * 60) * (1 if zone[0] == "+" else -1)
    return calendar.timegm(t) - off


# --- the raw client -------------------------------------------------------

_tags = itertools.count(1)


class Conn:
    """A raw IMAP connection.  cmd() sends one command and returns
    (untagged responses as bytes without the final CRLF, tagged line as
    str); literals inside responses are kept in the bytes as on the wire."""

    def __init__(self, port, tls=False, timeout=15, greet=True, source=None):
        self.sock = socket.create_connection((HOST, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        if tls:
            self.sock = client_tls().wrap_socket(self.sock, server_hostname=TLS_NAME)
        self.buf = b""
        self.inflate = None
        self.deflate = None
        self.raw_in = 0                # bytes received on the wire (compressed or not)
        self.greeting = self.response() if greet else None

    # raw bytes
    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        if self.deflate is not None:
            data = self.deflate.compress(data) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed; buffered: %r" % self.buf[-300:])
        self.raw_in += len(chunk)
        if self.inflate is not None:
            chunk = self.inflate.decompress(chunk)
        self.buf += chunk

    def line(self):
        """One line (CRLF removed) as bytes, no literal handling."""
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def response(self):
        """One whole response: a line plus the literals it announces."""
        out = b""
        while True:
            line = self.line()
            out += line
            m = re.search(rb"~?\{(\d+)\+?\}$", line)
            if not m:
                return out
            n = int(m.group(1))
            while len(self.buf) < n:
                self._fill()
            out += b"\r\n" + self.buf[:n]
            self.buf = self.buf[n:]

    def read_until_tagged(self, tag):
        untagged = []
        while True:
            r = self.response()
            if r.startswith(tag.encode() + b" "):
                return untagged, r.decode("utf-8", "replace")
            untagged.append(r)

    def cmd(self, text, tag=None):
        """Sends '<tag> text' and reads up to its tagged reply."""
        tag = tag or "t%d" % next(_tags)
        if isinstance(text, str):
            text = text.encode()
        self.send(tag.encode() + b" " + text + b"\r\n")
        return self.read_until_tagged(tag)

    def ok(self, text, tag=None):
        """cmd() that must end in OK; returns the untagged responses."""
        tag = tag or "t%d" % next(_tags)
        untagged, tagged = self.cmd(text, tag)
        if not tagged.startswith(tag + " OK"):
            raise ImapError("%r -> %r (untagged %r)" % (text[:200], tagged, untagged[:5]))
        return untagged

    def ok_tagged(self, text):
        """cmd() that must end in OK; returns (untagged, tagged line)."""
        tag = "t%d" % next(_tags)
        untagged, tagged = self.cmd(text, tag)
        if not tagged.startswith(tag + " OK"):
            raise ImapError("%r -> %r" % (text[:200], tagged))
        return untagged, tagged

    def cmd_literals(self, pieces, tag=None):
        """A command with literals: pieces alternate text (str/bytes) and
        Lit objects.  Synchronising literals wait for '+'; if the server
        answers with the tagged reply instead, the rest is not sent and
        (untagged, tagged, False) is returned.  Otherwise (untagged,
        tagged, True)."""
        tag = tag or "t%d" % next(_tags)
        out = tag.encode() + b" "
        untagged = []
        for p in pieces:
            if isinstance(p, Lit):
                out += p.header()
                if p.sync:
                    self.send(out + b"\r\n")
                    out = b""
                    while True:
                        r = self.response()
                        if r.startswith(b"+"):
                            break
                        if r.startswith(tag.encode() + b" "):
                            return untagged, r.decode("utf-8", "replace"), False
                        untagged.append(r)
                    self.send(p.data)
                else:
                    out += b"\r\n" + p.data
            else:
                out += p.encode() if isinstance(p, str) else p
        self.send(out + b"\r\n")
        more, tagged = self.read_until_tagged(tag)
        return untagged + more, tagged, True

    def login(self, user, password=PASSWORD):
        self.ok('LOGIN "%s" "%s"' % (user, password))
        return self

    def starttls(self):
        self.ok("STARTTLS")
        self.sock = client_tls().wrap_socket(self.sock, server_hostname=TLS_NAME)
        self.buf = b""

    def compress(self):
        """COMPRESS DEFLATE; from then on both directions are raw DEFLATE."""
        tagged = self.ok_tagged("COMPRESS DEFLATE")[1]
        self.deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
        self.inflate = zlib.decompressobj(-15)
        if self.buf:
            self.buf = self.inflate.decompress(self.buf)
        return tagged

    def closed(self, timeout=5):
        """True if the server closes the connection within timeout (what
        arrives meanwhile is kept in buf)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                self._fill()
        except (socket.timeout, TimeoutError):
            return False
        except (EOFError, ConnectionResetError, ssl.SSLError, OSError):
            return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def logout(self):
        try:
            self.cmd("LOGOUT")
        except (EOFError, OSError):
            pass
        self.close()


class Lit:
    def __init__(self, data, sync=True, literal8=False):
        self.data = data.encode() if isinstance(data, str) else data
        self.sync = sync
        self.literal8 = literal8

    def header(self):
        return b"%s{%d%s}" % (b"~" if self.literal8 else b"", len(self.data), b"" if self.sync else b"+")


def select(c, mailbox="INBOX", params=""):
    """SELECT; returns a dict of what the untagged responses said."""
    untagged, tagged = c.ok_tagged(('SELECT "%s"' % mailbox) + ((" " + params) if params else ""))
    return select_info(untagged, tagged)


def select_info(untagged, tagged):
    info = {"tagged": tagged, "untagged": untagged}
    for r in untagged:
        s = r.decode("utf-8", "replace")
        m = re.match(r"\* (\d+) EXISTS$", s)
        if m:
            info["EXISTS"] = int(m.group(1))
        m = re.match(r"\* OK \[([A-Z-]+) ?(.*?)\]", s)
        if m:
            info[m.group(1)] = m.group(2)
        if s.startswith("* FLAGS "):
            info["FLAGS"] = parse(s[8:])[0]
    return info


def untagged_of(untagged, kind):
    """The untagged responses whose first word after '*' (or after the
    number) is kind, e.g. 'LIST', 'EXPUNGE', 'FETCH'."""
    out = []
    for r in untagged:
        words = r.split(b" ", 3)
        if len(words) > 1 and words[1].upper() == kind.encode():
            out.append(r)
        elif len(words) > 2 and words[1].isdigit() and words[2].upper() == kind.encode():
            out.append(r)
    return out


def list_entries(untagged):
    """'* LIST (\\HasNoChildren) "/" Drafts' -> {'Drafts': (attrs upper set, delim, extra)}."""
    out = {}
    for r in untagged_of(untagged, "LIST"):
        v = parse(r[len(b"* LIST "):])
        name = v[2].decode("utf-8") if isinstance(v[2], bytes) else v[2]
        out[name] = ({a.upper() for a in v[0]}, v[1], v[3:])
    return out


def lsub_names(untagged):
    out = {}
    for r in untagged_of(untagged, "LSUB"):
        v = parse(r[len(b"* LSUB "):])
        name = v[2].decode("utf-8") if isinstance(v[2], bytes) else v[2]
        out[name] = {a.upper() for a in v[0]}
    return out


def status_of(untagged):
    """'* STATUS INBOX (MESSAGES 3 UIDNEXT 4)' -> {'INBOX': {'MESSAGES': 3, ...}}."""
    out = {}
    for r in untagged_of(untagged, "STATUS"):
        v = parse(r[len(b"* STATUS "):])
        name = v[0].decode("utf-8") if isinstance(v[0], bytes) else v[0]
        items = v[1]
        out[name] = {k.upper(): int(x) for k, x in zip(items[0::2], items[1::2])}
    return out


def fetches(untagged):
    """{seq: items} of every FETCH response (merged when one message has several)."""
    out = {}
    for r in untagged_of(untagged, "FETCH"):
        seq, items = fetch_items(r)
        out.setdefault(seq, {}).update(items)
    return out


def esearch(untagged):
    """The one ESEARCH response as (tag or None, uid bool, {name: value})."""
    rs = untagged_of(untagged, "ESEARCH")
    if len(rs) != 1:
        raise ImapError("expected one ESEARCH, got %r" % untagged)
    v = parse(rs[0][len(b"* ESEARCH"):])
    tag = None
    if v and isinstance(v[0], list):
        assert v[0][0].upper() == "TAG", v
        tag = v[0][1].decode()
        v = v[1:]
    uid = False
    if v and isinstance(v[0], str) and v[0].upper() == "UID":
        uid = True
        v = v[1:]
    return tag, uid, {k.upper(): x for k, x in zip(v[0::2], v[1::2])}


def search_numbers(untagged):
    """The numbers of the '* SEARCH' response (one expected)."""
    rs = untagged_of(untagged, "SEARCH")
    if len(rs) != 1:
        raise ImapError("expected one SEARCH, got %r" % untagged)
    words = rs[0].decode().split()[2:]
    if "(MODSEQ" in words:
        words = words[:words.index("(MODSEQ")]
    return [int(w) for w in words]


def expand_set(s):
    """'1:3,7' -> [1, 2, 3, 7]."""
    out = []
    if s is None or s == "":
        return out
    for part in str(s).split(","):
        if ":" in part:
            a, b = part.split(":")
            a, b = int(a), int(b)
            out += list(range(min(a, b), max(a, b) + 1))
        else:
            out.append(int(part))
    return out


def apply_expunges(uids, untagged):
    """Applies '* n EXPUNGE' responses in order to a list of UIDs (the
    client's view) and returns the UIDs removed."""
    removed = []
    for r in untagged:
        m = re.match(rb"\* (\d+) EXPUNGE$", r)
        if m:
            n = int(m.group(1))
            assert 1 <= n <= len(uids), "EXPUNGE %d with %d messages" % (n, len(uids))
            removed.append(uids.pop(n - 1))
    return removed


# --- imaplib ---------------------------------------------------------------

def imaplib_client(srv, user=None, password=PASSWORD, tls=None, timeout=15):
    """An imaplib client: tls None (plain 143), "starttls" or "implicit" (993)."""
    if tls == "implicit":
        m = imaplib.IMAP4_SSL(HOST, srv.port("imaps"), ssl_context=client_tls(), timeout=timeout)
    else:
        m = imaplib.IMAP4(HOST, srv.port("imap"), timeout=timeout)
        if tls == "starttls":
            m.starttls(ssl_context=client_tls())
    if user is not None:
        m.login(user, password)
    return m


def check(typ_data, want="OK"):
    typ, data = typ_data
    assert typ == want, (typ, data)
    return data


# --- a server shared by the cases of one file --------------------------------

class Shared:
    """One started server for the cases of a file (server start-up under
    the sanitizers costs a second or more).  Each case asks for fresh users
    with user(), so cases do not see each other's mail.  The last case of
    the file, shared_server_stops_cleanly, stops it with stop_and_check."""

    def __init__(self, **kw):
        self.kw = kw
        self.srv = None
        self.n = 0
        atexit.register(self.cleanup)

    def cleanup(self):
        """At exit (e.g. TERN_TEST_ONLY skipped the stopping case)."""
        if self.srv is not None:
            self.srv.cleanup()
            self.srv = None

    def get(self):
        if self.srv is None or self.srv.proc is None or self.srv.proc.poll() is not None:
            if self.srv is not None:
                self.srv.cleanup()
            self.srv = Server(**self.kw)
            self.srv.start()
        return self.srv

    def user(self, prefix="u", role="user", **kw):
        srv = self.get()
        self.n += 1
        addr = "%s%d-%d@example.test" % (prefix, self.n, os.getpid() % 1000)
        srv.add_user(addr, role=role)
        if kw:
            args = []
            for k, v in kw.items():
                args += ["--" + k.replace("_", "-"), v]
            srv.cli("user", "set", addr, *args)
        return addr

    def conn(self, user=None, tls=False, service="imap"):
        srv = self.get()
        c = Conn(srv.port(service), tls=tls)
        if user is not None:
            c.login(user)
        return c

    def check_alive(self):
        """After a case: the server must still run and have no sanitizer report."""
        if self.srv is None:
            return
        report = sanitizer_report(self.srv)
        if report is not None:
            raise AssertionError("sanitizer report in the server log: " + report)
        if self.srv.proc is not None and self.srv.proc.poll() is not None:
            raise AssertionError("server exited (status %s): %s" % (self.srv.proc.returncode, self.srv.tail()))

    def stop(self):
        if self.srv is not None:
            srv, self.srv = self.srv, None
            report = sanitizer_report(srv)
            stop_and_check(srv)
            if report is not None:
                raise AssertionError("sanitizer report in the server log: " + report)


class Fixture:
    """A case's fixture: the shared server, plus servers the case starts
    itself with another configuration (stopped after the case)."""

    def __init__(self, shared):
        self.shared = shared
        self.own = []

    @property
    def srv(self):
        return self.shared.get()

    def user(self, *a, **kw):
        return self.shared.user(*a, **kw)

    def conn(self, *a, **kw):
        return self.shared.conn(*a, **kw)

    def server(self, users=(ALICE,), **kw):
        srv = Server(**kw)
        self.own.append(srv)
        for u in users:
            srv.add_user(u)
        return srv.start()


def shared_suite(suite, **kw):
    """Returns (case decorator, run function) for a file whose cases share
    one server started with Server(**kw)."""
    import functools
    shared = Shared(**kw)

    def case(fn):
        @functools.wraps(fn)
        def run(f):
            try:
                fn(f)
            except Exception as e:
                logs = ""
                for srv in [shared.srv] + f.own:
                    if srv is not None:
                        logs += "\n--- server log %s ---\n%s" % (srv.dir, srv.tail(30))
                raise AssertionError("%s: %s%s" % (type(e).__name__, e, logs)) from e
        return suite.case(run)

    def setup():
        return Fixture(shared)

    def teardown(f):
        first = None
        for srv in f.own:
            try:
                report = sanitizer_report(srv)
                if srv.proc is not None:
                    stop_and_check(srv)
                else:
                    srv.cleanup()
                if report is not None:
                    raise AssertionError("sanitizer report in the server log: " + report)
            except Exception as e:
                first = first or e
        shared.check_alive()
        if first is not None:
            raise first

    def run():
        @suite.case
        def shared_server_stops_cleanly(f):
            shared.stop()
        suite.run(setup, teardown)

    return case, run
