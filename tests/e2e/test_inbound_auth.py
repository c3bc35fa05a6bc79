"""End-to-end tests of the checks of mail arriving on port 25: SPF, DKIM
and DMARC against a loopback DNS server (tests/e2e/dnsserver.py), their
Authentication-Results field read back over POP3, DMARC reject and
quarantine, forged A-R fields, and submission mail left unchecked.

The client is smtplib on 127.0.0.1, so SPF sees 127.0.0.1.  DKIM
signatures are made with dkimpy (python3-dkim)."""

import base64
import os
import re
import smtplib
import subprocess
import sys
import tempfile

import dkim

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from dnsserver import DNSServer  # noqa: E402
from harness import Suite  # noqa: E402
from mailcheck import Servers, deliver, fetch_all, message, submission, teardown  # noqa: E402

suite = Suite()
HOST = "mail.example.test"
ALICE = "alice@example.test"

_key = {}


def rsa_key():
    """(private PEM, DKIM key record), made once."""
    if not _key:
        d = tempfile.mkdtemp(prefix="tern-inbound-")
        path = os.path.join(d, "k.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                        "-out", path], check=True, capture_output=True)
        pub = subprocess.run(["openssl", "pkey", "-in", path, "-pubout", "-outform", "DER"], check=True,
                             capture_output=True).stdout
        _key["priv"] = open(path, "rb").read()
        _key["rec"] = "v=DKIM1; k=rsa; p=" + base64.b64encode(pub).decode()
        subprocess.run(["rm", "-rf", d])
    return _key["priv"], _key["rec"]


def zone():
    _, rec = rsa_key()
    return {
        "pass.example": {"TXT": ["v=spf1 ip4:127.0.0.1 -all"]},
        "fail.example": {"TXT": ["v=spf1 ip4:192.0.2.1 -all"]},
        "soft.example": {"TXT": ["v=spf1 ip4:192.0.2.1 ~all"]},
        "none.example": {"A": ["192.0.2.7"]},
        # SPF by include and a macro: exists:%{i}._spf.macro.example
        "inc.example": {"TXT": ["v=spf1 include:macro.example -all"]},
        "macro.example": {"TXT": ["v=spf1 exists:%{i}._spf.%{d} -all"]},
        "127.0.0.1._spf.macro.example": {"A": ["127.0.0.2"]},
        # signed mail whose SPF fails: DMARC must pass by DKIM alignment
        "signed.example": {"TXT": ["v=spf1 ip4:192.0.2.1 -all"]},
        "sel._domainkey.signed.example": {"TXT": [rec]},
        "_dmarc.signed.example": {"TXT": ["v=DMARC1; p=reject"]},
        "reject.example": {"TXT": ["v=spf1 ip4:192.0.2.1 -all"]},
        "_dmarc.reject.example": {"TXT": ["v=DMARC1; p=reject; rua=mailto:d@reject.example"]},
        "quar.example": {"TXT": ["v=spf1 ip4:192.0.2.1 -all"]},
        "_dmarc.quar.example": {"TXT": ["v=DMARC1; p=quarantine"]},
    }


class Fixture:
    def __init__(self):
        self.servers = Servers()
        self.dns = DNSServer(zone())
        self.dns.start()

    def tern(self, extra=""):
        if "[inbound]" not in extra:
            extra += "[inbound]\nchecks = yes\n"   # the harness turns them off by default
        conf = ("[delivery]\nresolver = 127.0.0.1:%d\ndnssec_trust_anchor = none\n%s" % (self.dns.port, extra))
        return self.servers.std(users=(ALICE,), extra=conf)

    def close(self):
        self.dns.stop()
        errors = []
        for s in self.servers.list:
            try:
                teardown(s)
            except AssertionError as e:
                errors.append(str(e))
        if errors:
            raise AssertionError("; ".join(errors))


def msg_from(domain, subject="inbound", extra=b""):
    return message(subject=subject, sender="someone@" + domain, to=ALICE, extra=extra)


def signed(domain, body="signed body\r\n"):
    priv, _ = rsa_key()
    m = msg_from(domain, subject="signed", extra=b"")
    m = m.replace(b"\r\n\r\nhello\r\n", b"\r\n\r\n" + body.encode())
    sig = dkim.sign(m, b"sel", domain.encode(), priv, include_headers=[b"from", b"to", b"subject"])
    return sig.replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n") + m


def stored(srv):
    return fetch_all(srv, ALICE)


def ar_fields(msg):
    """The Authentication-Results fields of a stored message, unfolded."""
    head = msg.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    head = re.sub(r"\r\n[ \t]+", " ", head)
    return [l.split(":", 1)[1].strip() for l in head.split("\r\n")
            if l.lower().startswith("authentication-results:")]


def results(msg):
    """{method: (result, rest)} of our own (first) A-R field."""
    fields = ar_fields(msg)
    assert fields, msg[:400]
    first = fields[0]
    parts = [p.strip() for p in first.split(";")]
    assert parts[0] == HOST, first
    out = {}
    for p in parts[1:]:
        m = re.match(r"(\w+)=(\w+)(.*)", p)
        assert m, p
        out.setdefault(m.group(1), (m.group(2), m.group(3).strip()))
    return out


def one(f, srv, sender_domain, msg):
    deliver(srv, ALICE, msg, sender="bounce@" + sender_domain)
    msgs = stored(srv)
    assert len(msgs) >= 1
    return msgs[-1]


@suite.case
def spf_results(f):
    srv = f.tern()
    for domain, want in (("pass.example", "pass"), ("fail.example", "fail"), ("soft.example", "softfail"),
                         ("none.example", "none"), ("inc.example", "pass")):
        m = one(f, srv, domain, msg_from(domain))
        r = results(m)
        assert r["spf"][0] == want, (domain, r)
        assert "smtp.mailfrom=bounce@" + domain in r["spf"][1], r
        assert r["dkim"][0] == "none", r
        # under Return-Path (RFC 5321 4.4: first), above our Received
        assert re.match(rb"Return-Path: <[^>]*>\r\nAuthentication-Results: " + HOST.encode() +
                        rb";(\r\n\t[^\r]*)+\r\nReceived: ", m), m[:400]


@suite.case
def dkim_pass_and_dmarc_pass_by_alignment(f):
    srv = f.tern()
    m = one(f, srv, "signed.example", signed("signed.example"))
    r = results(m)
    assert r["spf"][0] == "fail", r
    assert r["dkim"][0] == "pass", r
    assert "header.d=signed.example" in r["dkim"][1] and "header.s=sel" in r["dkim"][1], r
    assert r["dmarc"][0] == "pass", r
    assert "(p=reject)" in r["dmarc"][1] and "header.from=signed.example" in r["dmarc"][1], r


@suite.case
def dkim_fail_body_modified_is_rejected(f):
    srv = f.tern()
    m = signed("signed.example").replace(b"signed body", b"changed body")
    try:
        deliver(srv, ALICE, m, sender="bounce@signed.example")
        raise AssertionError("accepted")
    except smtplib.SMTPDataError as e:
        assert e.smtp_code == 550 and b"DMARC" in e.smtp_error, e
    assert stored(srv) == []


@suite.case
def dkim_fail_recorded_without_enforcement(f):
    srv = f.tern("[inbound]\ndmarc_enforce = no\n")
    m = signed("signed.example").replace(b"signed body", b"changed body")
    r = results(one(f, srv, "signed.example", m))
    assert r["dkim"][0] == "fail", r
    assert r["dmarc"][0] == "fail", r


@suite.case
def dmarc_reject(f):
    srv = f.tern()
    try:
        deliver(srv, ALICE, msg_from("reject.example"), sender="bounce@reject.example")
        raise AssertionError("accepted")
    except smtplib.SMTPDataError as e:
        assert e.smtp_code == 550, e
        assert b"5.7.1" in e.smtp_error and b"rejected by DMARC policy" in e.smtp_error, e
    assert stored(srv) == []


@suite.case
def dmarc_reject_not_enforced(f):
    srv = f.tern("[inbound]\ndmarc_enforce = no\n")
    r = results(one(f, srv, "reject.example", msg_from("reject.example")))
    assert r["dmarc"][0] == "fail", r
    assert "p=reject" in r["dmarc"][1], r


@suite.case
def dmarc_quarantine_stored(f):
    srv = f.tern()
    r = results(one(f, srv, "quar.example", msg_from("quar.example")))
    assert r["dmarc"][0] == "fail", r
    assert "p=quarantine" in r["dmarc"][1], r


@suite.case
def forged_ar_dropped(f):
    srv = f.tern()
    forged = ("Authentication-Results: %s; spf=pass smtp.mailfrom=x@reject.example;\r\n"
              "\tdmarc=pass header.from=reject.example\r\n"
              "Authentication-Results: other.example; spf=pass smtp.mailfrom=x@y.example\r\n" % HOST).encode()
    m = one(f, srv, "fail.example", msg_from("fail.example", extra=forged))
    fields = ar_fields(m)
    ours = [x for x in fields if x.split(";")[0].strip().lower() == HOST]
    assert len(ours) == 1, fields
    assert "spf=fail" in ours[0], ours
    # someone else's stays
    assert any(x.startswith("other.example;") for x in fields), fields
    assert b"dmarc=pass header.from=reject.example" not in m


@suite.case
def checks_off(f):
    srv = f.tern("[inbound]\nchecks = no\n")
    m = one(f, srv, "reject.example", msg_from("reject.example"))
    assert ar_fields(m) == [], m[:300]


@suite.case
def submission_unchecked(f):
    srv = f.tern()
    s = submission(srv, ALICE)
    try:
        s.sendmail(ALICE, [ALICE], message(sender=ALICE, to=ALICE))
    finally:
        s.quit()
    msgs = stored(srv)
    assert len(msgs) == 1
    assert ar_fields(msgs[0]) == [], msgs[0][:300]


def setup():
    return Fixture()


def teardown_fixture(f):
    f.close()


if __name__ == "__main__":
    suite.run(setup, teardown_fixture)
