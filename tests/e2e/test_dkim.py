"""End-to-end tests of `tern dkim` and `tern dns records`: keys made by
`tern dkim generate`, messages signed by `tern dkim sign` and checked by an
independent verifier (Debian's python3-dkim, dkimpy), and messages signed
by dkimpy checked by `tern dkim verify`.  No server runs: these are CLI
commands over a config file and a data directory."""

import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# python3-dkim is a Debian package: visible to /usr/bin/python3, not to
# another python3 that may come first in PATH.
sys.path.append("/usr/lib/python3/dist-packages")

import dkim  # noqa: E402

from harness import TERN, Suite, certificate  # noqa: E402

suite = Suite()

MESSAGE = (b"From: Alice <alice@example.org>\r\n"
           b"To: bob@example.net\r\n"
           b"Subject:  Hello   there \r\n\tfolded\r\n"
           b"Date: Mon, 7 Dec 2026 10:00:00 +0000\r\n"
           b"Message-ID: <1@example.org>\r\n"
           b"MIME-Version: 1.0\r\n"
           b"Content-Type: text/plain; charset=utf-8\r\n"
           b"\r\n"
           b"Hi Bob,  \r\n\r\nthis \t is a test.\r\n\r\n\r\n")


class Fixture:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tern-dkim-")
        self.conf = os.path.join(self.dir, "tern.conf")
        self.data = os.path.join(self.dir, "data")
        cert, key = certificate()
        with open(self.conf, "w") as f:
            f.write("[server]\nhostname = mail.example.test\ndata_dir = %s\n[tls]\ncert = %s\nkey = %s\n"
                    "[listen]\nsubmissions = 127.0.0.1:4465\nimaps = 127.0.0.1:4993\npop3s = \n"
                    "https = 127.0.0.1:4443\n"
                    % (self.data, cert, key))

    def tern(self, *args, check=True):
        r = subprocess.run([TERN, "--config", self.conf] + list(args), capture_output=True, timeout=60)
        assert b"AddressSanitizer" not in r.stderr and b"runtime error" not in r.stderr, r.stderr
        if check and r.returncode != 0:
            raise AssertionError("tern %s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr.decode()))
        return r

    def path(self, name, data):
        p = os.path.join(self.dir, name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def setup():
    return Fixture()


def teardown(fx):
    fx.cleanup()


def record_of(line):
    """The TXT data of a zone line, its quoted strings joined, as DNS gives it."""
    return "".join(re.findall(r'"([^"]*)"', line)).encode()


def generate(fx, *args):
    out = fx.tern("dkim", "generate", *args).stdout.decode()
    lines = out.strip().split("\n")
    assert len(lines) == 1, out
    return lines[0]


def dnsfunc(line):
    rec = record_of(line)
    name = line.split(" ", 1)[0].rstrip(".").encode()

    def f(qname, timeout=5):
        return rec if qname.rstrip(b".") == name else None
    return f


@suite.case
def generate_rsa(fx):
    line = generate(fx, "example.org", "--selector", "s1")
    assert line.startswith('s1._domainkey.example.org. IN TXT "v=DKIM1; k=rsa; " "p=MII'), line
    for s in re.findall(r'"([^"]*)"', line):
        assert len(s) <= 255, len(s)
    assert len(record_of(line)) > 255
    pem = os.path.join(fx.data, "dkim", "example.org", "s1.pem")
    assert os.stat(pem).st_mode & 0o777 == 0o600
    # the default selector is tern + YYYYMM
    line = generate(fx, "example.net")
    assert re.match(r"tern\d{6}\._domainkey\.example\.net\. IN TXT ", line), line
    # a key is never overwritten
    r = fx.tern("dkim", "generate", "example.org", "--selector", "s1", check=False)
    assert r.returncode != 0 and r.stderr


@suite.case
def generate_ed25519_and_list(fx):
    ed = generate(fx, "example.org", "--selector", "ed", "--algorithm", "ed25519")
    assert re.fullmatch(r'ed\._domainkey\.example\.org\. IN TXT "v=DKIM1; k=ed25519; " "p=[A-Za-z0-9+/]{43}="', ed), ed
    rsa = generate(fx, "example.org", "--selector", "zz")
    out = fx.tern("dkim", "list").stdout.decode().strip().split("\n")
    rows = [l.split("\t") for l in out]
    assert len(rows) == 2, out
    by_sel = {r[1]: r for r in rows}
    assert by_sel["ed"][0] == "example.org" and by_sel["ed"][2] == "ed25519" and by_sel["ed"][5] == ed
    assert by_sel["zz"][2] == "rsa" and by_sel["zz"][5] == rsa
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", by_sel["zz"][3])
    assert [r[4] for r in rows].count("active") == 1
    r = fx.tern("dkim", "generate", "example.org", "--algorithm", "dsa", check=False)
    assert r.returncode == 2


def sign_and_check(fx, selector, algorithm):
    line = generate(fx, "example.org", "--selector", selector, "--algorithm", algorithm)
    msg = fx.path("msg.eml", MESSAGE)
    signed = fx.tern("dkim", "sign", "--domain", "example.org", "--selector", selector, msg).stdout
    assert signed.endswith(MESSAGE)
    header = signed[:-len(MESSAGE)]
    assert header.startswith(b"DKIM-Signature: ") and header.endswith(b"\r\n")
    for l in header.split(b"\r\n"):
        assert len(l) <= 78, l
    assert b"h=from:from:to:subject:date:message-id:mime-version:content-type;" in header.replace(b"\r\n\t", b"")
    assert dkim.verify(signed, dnsfunc=dnsfunc(line)), "dkimpy says the signature is bad"
    # dkimpy must see a changed body as a failure too
    assert not dkim.verify(signed.replace(b"is a test", b"is a TEST"), dnsfunc=dnsfunc(line))
    # and tern's own verifier agrees
    p = fx.path("signed.eml", signed)
    r = fx.tern("dkim", "verify", p, "--txt", line.split(" ", 1)[0] + "=" + line.split(" IN TXT ", 1)[1])
    assert r.stdout.decode().startswith("dkim=pass header.d=example.org header.s=%s header.b=" % selector), r.stdout


@suite.case
def sign_rsa_dkimpy_verifies(fx):
    sign_and_check(fx, "rsa1", "rsa")


@suite.case
def sign_ed25519_dkimpy_verifies(fx):
    sign_and_check(fx, "ed1", "ed25519")


def rsa_key(fx):
    key = os.path.join(fx.dir, "k.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key],
                   check=True, capture_output=True)
    pub = subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-outform", "DER"], check=True,
                         capture_output=True).stdout
    import base64
    return open(key, "rb").read(), "v=DKIM1; k=rsa; p=" + base64.b64encode(pub).decode()


@suite.case
def dkimpy_signed_tern_verifies(fx):
    priv, rec = rsa_key(fx)
    for canon in ((b"simple", b"simple"), (b"relaxed", b"relaxed"), (b"relaxed", b"simple"), (b"simple", b"relaxed")):
        sig = dkim.sign(MESSAGE, b"py", b"example.com", priv, canonicalize=canon,
                        include_headers=[b"from", b"to", b"subject"])
        p = fx.path("py.eml", sig + MESSAGE)
        r = fx.tern("dkim", "verify", p, "--txt", "py._domainkey.example.com=" + rec, check=False)
        assert r.returncode == 0 and r.stdout.decode().startswith("dkim=pass header.d=example.com header.s=py"), \
            (canon, r.stdout, r.stderr)
        bad = fx.path("bad.eml", sig + MESSAGE.replace(b"Bob,", b"Eve,"))
        r = fx.tern("dkim", "verify", bad, "--txt", "py._domainkey.example.com=" + rec, check=False)
        assert r.returncode == 1 and r.stdout.decode().startswith("dkim=fail"), (canon, r.stdout)
    # no key record given: permerror; unsigned: none
    r = fx.tern("dkim", "verify", p, check=False)
    assert r.stdout.decode().startswith('dkim=permerror reason="no key"'), r.stdout
    r = fx.tern("dkim", "verify", fx.path("plain.eml", MESSAGE), check=False)
    assert r.returncode == 1 and r.stdout.decode().strip() == "dkim=none"


@suite.case
def dkimpy_ed25519_and_length(fx):
    import base64
    import nacl.signing
    sk = nacl.signing.SigningKey.generate()
    priv = base64.b64encode(bytes(sk))
    rec = "v=DKIM1; k=ed25519; p=" + base64.b64encode(bytes(sk.verify_key)).decode()
    sig = dkim.sign(MESSAGE, b"ed", b"example.com", priv, signature_algorithm=b"ed25519-sha256",
                    canonicalize=(b"relaxed", b"relaxed"), include_headers=[b"from", b"subject"])
    txt = fx.path("txt", ("ed._domainkey.example.com=%s\n" % rec).encode())
    r = fx.tern("dkim", "verify", fx.path("ed.eml", sig + MESSAGE), "--txt-file", txt, check=False)
    assert r.returncode == 0 and "dkim=pass" in r.stdout.decode(), (r.stdout, r.stderr)
    # l=: text appended after the signed length still passes
    priv, rec = rsa_key(fx)
    sig = dkim.sign(MESSAGE, b"py", b"example.com", priv, length=True, include_headers=[b"from"])
    assert b"l=" in sig
    p = fx.path("l.eml", sig + MESSAGE + b"appended\r\n")
    r = fx.tern("dkim", "verify", p, "--txt", "py._domainkey.example.com=" + rec, check=False)
    assert r.returncode == 0 and "dkim=pass" in r.stdout.decode(), (r.stdout, r.stderr)


@suite.case
def dns_records(fx):
    out = fx.tern("dns", "records", "example.org").stdout.decode().strip().split("\n")
    assert out[0] == "example.org. IN MX 10 mail.example.test.", out
    assert out[1] == 'example.org. IN TXT "v=spf1 mx -all"'
    assert out[2] == "; no DKIM key: run tern dkim generate example.org"
    assert out[3] == '_dmarc.example.org. IN TXT "v=DMARC1; p=quarantine; rua=mailto:postmaster@example.org"'
    assert out[4] == "_submissions._tcp.example.org. IN SRV 0 1 4465 mail.example.test.", out[4]
    assert out[5] == "_imaps._tcp.example.org. IN SRV 0 1 4993 mail.example.test.", out[5]
    assert out[6] == "_pop3s._tcp.example.org. IN SRV 0 0 0 .", out[6]   # not offered: RFC 6186 3
    assert out[7:10] == ["_submission._tcp.example.org. IN SRV 0 0 0 .", "_imap._tcp.example.org. IN SRV 0 0 0 .",
                         "_pop3._tcp.example.org. IN SRV 0 0 0 ."], out[7:10]
    # what Thunderbird and Outlook look up (issue 12)
    assert out[10:13] == ["autoconfig.example.org. IN CNAME mail.example.test.",
                          "autodiscover.example.org. IN CNAME mail.example.test.",
                          "_autodiscover._tcp.example.org. IN SRV 0 1 4443 mail.example.test."], out[10:13]
    line = generate(fx, "example.org", "--selector", "s1")
    out = fx.tern("dns", "records", "example.org").stdout.decode().strip().split("\n")
    assert out[2] == line and len(out) == 22, out
    # MTA-STS (RFC 8461): a commented record and policy at the end
    assert out[13].startswith("; MTA-STS (RFC 8461)"), out[13]
    assert '; _mta-sts.example.org. IN TXT "v=STSv1; id=1"' in out, out
    assert ";   mx: mail.example.test" in out and all(x.startswith(";") for x in out[13:]), out
    r = fx.tern("dns", "records", "bad/domain", check=False)
    assert r.returncode == 1 and r.stderr


@suite.case
def help_texts(fx):
    for args in (["dkim", "--help"], ["dns", "--help"], ["dkim", "verify", "--help"]):
        r = fx.tern(*args)
        assert b"usage: tern" in r.stdout
    assert b"testing and troubleshooting" in fx.tern("dkim", "--help").stdout
    r = fx.tern("dkim", "sign", fx.path("m", MESSAGE), check=False)
    assert r.returncode == 2


suite.run(setup, teardown)
