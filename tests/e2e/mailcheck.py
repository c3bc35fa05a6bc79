"""Shared helpers for the SMTP/POP3/TLS/crash/CLI end-to-end tests:
sending with smtplib, reading mailboxes with poplib, building messages.
(harness.py is the lead's; this file only builds on it.)"""

import os
import poplib
import smtplib
import socket
import subprocess
import uuid

from harness import PASSWORD, Raw, Server, certificate, client_tls, stop_and_check

HOST = "127.0.0.1"

# Run directly (not from tests/run.sh), the server still stops at the first
# sanitizer report, so that a report fails the case that caused it.
os.environ.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:halt_on_error=1")
os.environ.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")

SANITIZER_MARKS = ("runtime error:", "ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer")
TLS_NAME = "mail.example.test"


def message(subject="test", body="hello\r\n", sender="sender@example.org", to="alice@example.test",
            msgid=None, extra=b""):
    """A small RFC 5322 message as bytes with CRLF line ends."""
    if msgid is None:
        msgid = "<%s@e2e.example.org>" % uuid.uuid4().hex
    if isinstance(body, str):
        body = body.encode("utf-8")
    head = ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-Id: %s\r\n"
            "Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n" % (sender, to, subject, msgid)).encode()
    return head + extra + b"\r\n" + body


def smtp(srv, timeout=15):
    """An smtplib client on the inbound port, after EHLO."""
    s = smtplib.SMTP(HOST, srv.port("smtp"), local_hostname="client.example.org", timeout=timeout)
    s.ehlo()
    return s


def deliver(srv, rcpts, msg, sender="sender@example.org", options=()):
    """Delivers msg over inbound SMTP; returns sendmail's refused dict."""
    if isinstance(rcpts, str):
        rcpts = [rcpts]
    s = smtp(srv)
    try:
        return s.sendmail(sender, rcpts, msg, mail_options=list(options))
    finally:
        s.quit()


def submission(srv, user=None, password=PASSWORD, implicit=False, timeout=15):
    """An smtplib client on submission (STARTTLS) or submissions, after TLS
    and, when user is given, AUTH."""
    if implicit:
        s = smtplib.SMTP_SSL(HOST, srv.port("submissions"), local_hostname="client.example.org",
                             timeout=timeout, context=client_tls())
        s.ehlo()
    else:
        s = smtplib.SMTP(HOST, srv.port("submission"), local_hostname="client.example.org", timeout=timeout)
        s.ehlo()
        s.starttls(context=client_tls())
        s.ehlo()
    if user is not None:
        s.login(user, password)
    return s


def pop3(srv, user=None, password=PASSWORD, tls=None, timeout=15):
    """A poplib client.  tls: None (plain 110), "stls", or "implicit" (995)."""
    if tls == "implicit":
        p = poplib.POP3_SSL(HOST, srv.port("pop3s"), timeout=timeout, context=client_tls())
    else:
        p = poplib.POP3(HOST, srv.port("pop3"), timeout=timeout)
        if tls == "stls":
            p.stls(context=client_tls())
    if user is not None:
        p.user(user)
        p.pass_(password)
    return p


def retr(p, which):
    """RETR over an open poplib client; returns the message bytes with CRLF."""
    resp, lines, octets = p.retr(which)
    assert resp.startswith(b"+OK"), resp
    return b"".join(l + b"\r\n" for l in lines)


def fetch_all(srv, user, password=PASSWORD):
    """All messages of a mailbox (leaves them there), as a list of bytes."""
    p = pop3(srv, user, password)
    try:
        count, _ = p.stat()
        return [retr(p, i) for i in range(1, count + 1)]
    finally:
        p.quit()


def uidls(srv, user, password=PASSWORD):
    p = pop3(srv, user, password)
    try:
        resp, lines, _ = p.uidl()
        return [tuple(l.split()) for l in lines]
    finally:
        p.quit()


def split_trace(stored):
    """Splits a stored message into (trace header lines, the rest): trace
    headers are the Return-Path, Authentication-Results (port 25's checks)
    and Received fields the server put on top (with their folded
    continuation lines)."""
    lines = stored.split(b"\r\n")
    trace = []
    i = 0
    while i < len(lines):
        l = lines[i]
        if l[:1] in (b" ", b"\t") and trace:
            trace[-1] += b"\r\n" + l
        elif (l.lower().startswith(b"return-path:") or l.lower().startswith(b"received:") or
              l.lower().startswith(b"authentication-results: mail.example.test;")):
            trace.append(l)
        else:
            break
        i += 1
    return trace, b"\r\n".join(lines[i:])


def assert_delivered_exact(stored, original):
    """stored must be the original message, byte for byte, under trace headers."""
    trace, rest = split_trace(stored)
    assert rest == original, "body differs: stored %d bytes after trace, sent %d; first difference at %d" % (
        len(rest), len(original), first_diff(rest, original))
    return trace


def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def code_of(exc):
    """The SMTP code of an smtplib exception."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return list(exc.recipients.values())[0][0]
    return getattr(exc, "smtp_code", None)


def expect_smtp_error(fn, code, enhanced=None):
    """Runs fn, which must raise an smtplib error with this code (and
    enhanced status code in its text).  Returns the error text."""
    try:
        fn()
    except smtplib.SMTPResponseException as e:
        text = e.smtp_error.decode("utf-8", "replace") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
        assert e.smtp_code == code, "expected %d, got %d %s" % (code, e.smtp_code, text)
        if enhanced:
            assert text.startswith(enhanced), "expected %s in %r" % (enhanced, text)
        return text
    except smtplib.SMTPRecipientsRefused as e:
        c, text = list(e.recipients.values())[0]
        text = text.decode("utf-8", "replace")
        assert c == code, "expected %d, got %d %s" % (code, c, text)
        if enhanced:
            assert text.startswith(enhanced), "expected %s in %r" % (enhanced, text)
        return text
    raise AssertionError("expected an SMTP %d error, got success" % code)


def expect_pop_error(fn, *needles):
    """Runs fn, which must raise poplib.error_proto with -ERR; the text must
    contain every needle.  Returns the text."""
    try:
        r = fn()
    except poplib.error_proto as e:
        text = e.args[0]
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        assert text.startswith("-ERR"), text
        for n in needles:
            assert n.lower() in text.lower(), "%r not in %r" % (n, text)
        return text
    raise AssertionError("expected -ERR, got %r" % (r,))


def raw_smtp(srv, service="smtp", tls=False, ehlo=True):
    """A Raw client on an SMTP port, greeting read (and EHLO done)."""
    r = Raw(srv.port(service), tls=tls)
    g = r.reply()
    assert g[0].startswith("220"), g
    if ehlo:
        r.send("EHLO client.example.org\r\n")
        e = r.reply()
        assert e[-1].startswith("250 "), e
    return r


def raw_pop3(srv, service="pop3", tls=False):
    r = Raw(srv.port(service), tls=tls)
    g = r.line()
    assert g.startswith("+OK"), g
    return r


def pop3_multiline(r):
    """Reads a POP3 multi-line answer's lines after its +OK status line."""
    lines = []
    while True:
        l = r.line()
        if l == ".":
            return lines
        if l.startswith(".."):
            l = l[1:]
        lines.append(l)


def pop3_count(srv, user, password=PASSWORD):
    p = pop3(srv, user, password)
    try:
        return p.stat()[0]
    finally:
        p.quit()


def curl(*args, input=None, timeout=30):
    return subprocess.run(["curl", "-sS", "--max-time", "20", "--cacert", certificate()[0]] + list(args),
                          input=input, capture_output=True, timeout=timeout)


def quiet_socket(sock, timeout=0.5):
    """Whatever arrives on a plain socket within timeout (b"" if nothing)."""
    sock.settimeout(timeout)
    got = b""
    try:
        while True:
            d = sock.recv(65536)
            if not d:
                break
            got += d
    except (socket.timeout, TimeoutError):
        pass
    return got


def user_dir(srv, user):
    """data_dir/mail/<domain>/<local> (the test addresses need no escaping)."""
    local, domain = user.rsplit("@", 1)
    return os.path.join(srv.data, "mail", domain, local)


def index_files(srv, user):
    """The message file names user's index names (read-only, safe while
    the server runs: the index is SQLite in WAL mode)."""
    import sqlite3
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(user_dir(srv, user), "index.db"), uri=True, timeout=30)
    try:
        return set(r[0] for r in db.execute("SELECT file FROM messages"))
    finally:
        db.close()


def msg_files(srv, user):
    return set(os.listdir(os.path.join(user_dir(srv, user), "msg")))


def log_offset(srv):
    """Where the server log ends now (for wait_log)."""
    try:
        return os.path.getsize(srv.log_path)
    except OSError:
        return 0


def wait_log(srv, needle, offset=0, count=1, timeout=120):
    """Waits until needle appears count times in the server log after
    offset; returns the matching lines.  A bound on waiting for an event,
    not a timing assertion: under the sanitizers things are slow."""
    import time
    deadline = time.time() + timeout
    while True:
        with open(srv.log_path, "rb") as fh:
            fh.seek(offset)
            lines = [l.decode("utf-8", "replace") for l in fh.read().split(b"\n") if needle.encode() in l]
        if len(lines) >= count:
            return lines
        if time.time() > deadline:
            raise AssertionError("%r did not appear %d times in the log: %s" % (needle, count, srv.tail(20)))
        time.sleep(0.05)


def sanitizer_report(srv):
    """The first sanitizer report line in the server's log so far, or None."""
    try:
        with open(srv.log_path, "rb") as fp:
            for line in fp:
                text = line.decode("utf-8", "replace")
                if any(m in text for m in SANITIZER_MARKS):
                    return text.strip()
    except OSError:
        pass
    return None


def teardown(srv):
    """Suite teardown for fixtures that may or may not have been started:
    stop_and_check, after looking for sanitizer reports in the log (a
    server restarted by the case may have reported and exited earlier)."""
    report = sanitizer_report(srv)
    if srv.proc is not None:
        stop_and_check(srv)
    else:
        srv.cleanup()
    if report is not None:
        raise AssertionError("sanitizer report in the server log: " + report)



class Servers:
    """A case's fixture: the servers it starts (none until it asks), so
    that a case can choose its own configuration.  Teardown stops each
    with stop_and_check."""

    def __init__(self):
        self.list = []

    def std(self, users=("alice@example.test", "bob@example.test", "carol@example.org"), start=True, **kw):
        """A server with the standard users (alice, bob, carol), started."""
        srv = self.bare(**kw)
        for u in users:
            srv.add_user(u)
        if start:
            srv.start()
        return srv

    def bare(self, **kw):
        """A server with its config and two domains, not started."""
        srv = Server(**kw)
        self.list.append(srv)
        return srv


def setup():
    return Servers()


def teardown_all(f):
    first = None
    for srv in f.list:
        try:
            teardown(srv)
        except Exception as e:  # keep stopping the others
            if first is None:
                first = e
    if first is not None:
        raise first


def case(suite):
    """Like suite.case, but prints the servers' log tails when the case fails."""
    import functools

    def deco(fn):
        @functools.wraps(fn)
        def run(f):
            try:
                fn(f)
            except Exception as e:
                logs = "".join("\n--- server log %s ---\n%s" % (srv.dir, srv.tail(30)) for srv in f.list)
                raise AssertionError("%s: %s%s" % (type(e).__name__, e, logs)) from e
        return suite.case(run)
    return deco
