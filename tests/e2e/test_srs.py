"""End-to-end tests of SRS (src/srs/srs.h, docs/OPERATIONS.md "SRS"): mail
from an outside sender to an alias on Tern A whose target is on Tern B
leaves A with an SRS0 envelope sender at A's SRS domain (example.test, the
domain of A's hostname mail.example.test), B's SPF check then looks at
that domain and passes, a bounce to the SRS0 address comes back through
A to the original sender, and a forged one is refused.

Reuses test_delivery's fixture: a loopback DNS server, A on 127.0.0.1
and B on 127.0.0.2 (A reaches it from 127.0.0.1)."""

import os
import re
import smtplib
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import test_delivery  # noqa: E402
from harness import Suite  # noqa: E402
from mailcheck import fetch_all  # noqa: E402
from test_delivery import Fixture, wait  # noqa: E402

suite = Suite()

SENDER = "bob@sender.example"


def zone():
    z = test_delivery.zone()
    # the SRS domain: its SPF allows A (127.0.0.1); the original
    # sender's domain does not, and its mail goes to B
    z["example.test"] = {"TXT": ["v=spf1 ip4:127.0.0.1 -all"], "MX": [[10, "mail.example.test"]]}
    z["sender.example"] = {"TXT": ["v=spf1 ip4:192.0.2.1 -all"], "MX": [[10, "mx2.example.net"]]}
    return z


def setup():
    f = Fixture()
    f.dns.set(zone())
    return f


def destination(f, checks=False):
    """Tern B on 127.0.0.2, also the home of sender.example (bob)."""
    extra = ""
    if checks:
        extra = ("[delivery]\nresolver = 127.0.0.1:%d\ndnssec_trust_anchor = none\n"
                 "[inbound]\nchecks = yes\n" % f.dns.port)
    b = f.servers.bare(listen={"smtp": ("127.0.0.2", f.mx_port)}, extra=extra)
    b.cli("domain", "add", "example.net")
    b.cli("domain", "add", "sender.example")
    b.add_user("friend@example.net")
    b.add_user(SENDER)
    return b.start()


def forward(a, sender=SENDER, rcpt="fwd@example.test", subject="forwarded"):
    """An outside server sends to A's port 25."""
    s = smtplib.SMTP("127.0.0.1", a.port("smtp"), local_hostname="peer.sender.example", timeout=15)
    try:
        s.sendmail(sender, [rcpt], ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n\r\nhi\r\n"
                                    % (sender, rcpt, subject)).encode())
    finally:
        s.quit()


def return_path(msg):
    m = re.match(rb"Return-Path: <([^>]*)>\r\n", msg)
    assert m, msg[:300]
    return m.group(1).decode()


def header(msg, name):
    head = msg.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    head = re.sub(r"\r\n[ \t]+", " ", head)
    return [l.split(":", 1)[1].strip() for l in head.split("\r\n") if l.lower().startswith(name.lower() + ":")]


def forwarded_srs_address(f, a, b, subject="forwarded"):
    forward(a, subject=subject)
    got = wait("delivery to B", lambda: fetch_all(b, "friend@example.net"))
    return return_path(got[-1])


def case(fn):
    suite.case(fn)
    return fn


@case
def forwarded_with_srs_sender(f):
    """(a) The queued copy for the alias target elsewhere carries an SRS0
    sender at A's SRS domain; A's local member keeps the original."""
    a = f.sender()
    b = destination(f)
    a.cli("alias", "add", "fwd@example.test", "friend@example.net")
    a.cli("alias", "add", "fwd@example.test", "alice@example.test")
    forward(a)
    got = wait("delivery to B", lambda: fetch_all(b, "friend@example.net"))
    rp = return_path(got[0])
    assert re.fullmatch(r"SRS0=[A-Z2-7]{6}=[A-Z2-7]{2}=sender\.example=bob@example\.test", rp), rp
    local = wait("local copy", lambda: fetch_all(a, "alice@example.test"))
    assert return_path(local[0]) == SENDER, local[0][:300]
    log = open(a.log_path, encoding="utf-8", errors="replace").read()
    assert re.search(r"from=<bob@sender.example> .*srs=<%s>" % re.escape(rp), log), log[-2000:]
    # the key: made at start-up, 32 bytes, 0600
    st = os.stat(os.path.join(a.data, "srs.key"))
    assert st.st_size == 32 and stat.S_IMODE(st.st_mode) == 0o600, (st.st_size, oct(st.st_mode))


@case
def destination_spf_passes(f):
    """(b) B checks SPF of the SRS domain (allows 127.0.0.1), not of
    sender.example (which would fail)."""
    a = f.sender()
    b = destination(f, checks=True)
    a.cli("alias", "add", "fwd@example.test", "friend@example.net")
    forward(a, subject="spf")
    got = wait("delivery to B", lambda: fetch_all(b, "friend@example.net"))
    ar = header(got[0], "Authentication-Results")
    assert ar and ar[0].startswith("mail.example.test;"), ar
    assert re.search(r"\bspf=pass\b.*smtp\.mailfrom=.*example\.test", ar[0]), ar


@case
def without_srs_spf_fails(f):
    """The same with [delivery] srs = no: the original sender, spf=fail."""
    a = f.sender("srs = no\n")
    b = destination(f, checks=True)
    a.cli("alias", "add", "fwd@example.test", "friend@example.net")
    forward(a, subject="no srs")
    got = wait("delivery to B", lambda: fetch_all(b, "friend@example.net"))
    assert return_path(got[0]) == SENDER, got[0][:300]
    ar = header(got[0], "Authentication-Results")
    assert re.search(r"\bspf=fail\b", ar[0]), ar


@case
def bounce_goes_back_to_sender(f):
    """(c) A bounce (null sender) to the SRS0 address arrives on A's port
    25 and is sent on to bob@sender.example (on B), still with <>."""
    a = f.sender()
    b = destination(f)
    a.cli("alias", "add", "fwd@example.test", "friend@example.net")
    srs = forwarded_srs_address(f, a, b)
    s = smtplib.SMTP("127.0.0.1", a.port("smtp"), local_hostname="mx.example.net", timeout=15)
    try:
        s.ehlo()
        code, text = s.mail("<>")
        assert code == 250, (code, text)
        code, text = s.rcpt(srs.lower())   # case does not matter
        assert code == 250, (code, text)
        code, text = s.data(b"From: MAILER-DAEMON@example.net\r\nTo: <%s>\r\nSubject: Undelivered Mail\r\n"
                            b"\r\nsorry\r\n" % srs.encode())
        assert code == 250, (code, text)
    finally:
        s.quit()
    got = wait("bounce at the original sender", lambda: fetch_all(b, SENDER))
    assert return_path(got[0]) == "", got[0][:300]
    assert b"Subject: Undelivered Mail" in got[0]
    wait("queue empty", lambda: "queue is empty" in a.cli("queue", "list").stdout)


@case
def forged_srs_refused(f):
    """(d) A bad hash (or the wrong domain part) is 550 5.1.1 at RCPT:
    nothing is queued, nobody gets a bounce."""
    a = f.sender()
    b = destination(f)
    a.cli("alias", "add", "fwd@example.test", "friend@example.net")
    srs = forwarded_srs_address(f, a, b)
    h = srs[5:11]
    forged = [srs[:5] + ("AAAAAA" if h != "AAAAAA" else "BBBBBB") + srs[11:],
              srs.replace("=bob@", "=eve@"),
              "SRS0=AAAAAA=AA=sender.example=bob@example.test"]
    s = smtplib.SMTP("127.0.0.1", a.port("smtp"), local_hostname="mx.example.net", timeout=15)
    try:
        s.ehlo()
        assert s.mail("<>")[0] == 250
        for addr in forged:
            code, text = s.rcpt(addr)
            assert code == 550 and text.startswith(b"5.1.1"), (addr, code, text)
        s.rset()
    finally:
        s.quit()
    log = open(a.log_path, encoding="utf-8", errors="replace").read()
    assert log.count("srs rcpt=") >= 3 and 'reason="bad hash"' in log, log[-2000:]
    assert "queue is empty" in a.cli("queue", "list").stdout


def teardown_fixture(f):
    f.close()


if __name__ == "__main__":
    suite.run(setup, teardown_fixture)
