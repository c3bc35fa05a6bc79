"""tern init (issue 13): run non-interactively into a temporary directory,
the result passes `tern config check`, `tern serve` starts with it, and the
administrator logs in over IMAP; a second init refuses to overwrite; with
no password given, one is generated and printed once."""

import imaplib
import os
import random
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time

from harness import TERN, Suite, listening

suite = Suite()
OFFSETS = (25, 587, 465, 110, 995, 143, 993)


def free_base():
    """A base port N with N+25 ... N+993 all free on 127.0.0.1."""
    for _ in range(50):
        base = random.randrange(20000, 60000)
        ok = True
        for off in OFFSETS:
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", base + off))
            except OSError:
                ok = False
            finally:
                s.close()
            if not ok:
                break
        if ok:
            return base
    raise AssertionError("no free base port")


def init(d, *extra, password="init password 1", base=None):
    args = [TERN, "init", "--config", os.path.join(d, "etc", "tern.conf"), "--domain", "example.org",
            "--hostname", "mail.example.org", "--admin", "admin@example.org",
            "--data-dir", os.path.join(d, "data"), "--listen-address", "127.0.0.1",
            "--listen-base-port", str(base or free_base())] + list(extra)
    if password is not None:
        args.append("--password-stdin")
    return subprocess.run(args, input=(password + "\n") if password is not None else None,
                          stdin=None if password is not None else subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)


def fixture():
    return tempfile.mkdtemp(prefix="tern-e2e-init-")


@suite.case
def init_then_serve_and_admin_logs_in(d):
    base = free_base()
    r = init(d, base=base)
    assert r.returncode == 0, r.stderr
    conf = os.path.join(d, "etc", "tern.conf")
    assert "example.org. IN MX 10 mail.example.org." in r.stdout, r.stdout
    assert "_imaps._tcp.example.org. IN SRV 0 1 %d mail.example.org." % (base + 993) in r.stdout, r.stdout
    assert "_domainkey.example.org. IN TXT" in r.stdout, r.stdout
    assert "systemctl enable --now tern" in r.stdout
    c = subprocess.run([TERN, "config", "check", "--config", conf], capture_output=True, text=True)
    assert c.returncode == 0, c.stderr
    assert "hostname = mail.example.org" in c.stdout
    log = open(os.path.join(d, "server.log"), "wb")
    proc = subprocess.Popen([TERN, "serve", "--config", conf], stdout=log, stderr=log)
    try:
        deadline = time.time() + 15
        for off in OFFSETS:
            while not listening(base + off, proc.pid):
                assert proc.poll() is None, open(os.path.join(d, "server.log")).read()
                assert time.time() < deadline, "not listening on %d" % (base + off)
                time.sleep(0.05)
        ctx = ssl.create_default_context(cafile=os.path.join(d, "etc", "mail.example.org.crt.pem"))
        ctx.check_hostname = False      # we connect to 127.0.0.1; the chain is still checked
        imap = imaplib.IMAP4_SSL("127.0.0.1", base + 993, ssl_context=ctx)
        typ, _ = imap.login("admin@example.org", "init password 1")
        assert typ == "OK"
        typ, data = imap.select("INBOX")
        assert typ == "OK", data
        imap.logout()
        # STARTTLS on 143 too, with the certificate for the host name
        imap = imaplib.IMAP4("127.0.0.1", base + 143)
        imap.starttls(ssl_context=ctx)
        assert imap.login("admin@example.org", "init password 1")[0] == "OK"
        imap.logout()
    finally:
        proc.terminate()
        status = proc.wait(30)
        log.close()
    assert status == 0, open(os.path.join(d, "server.log")).read()


@suite.case
def refuses_to_overwrite_a_config(d):
    r = init(d)
    assert r.returncode == 0, r.stderr
    conf = os.path.join(d, "etc", "tern.conf")
    before = open(conf).read()
    r = init(d)
    assert r.returncode == 1, r.stdout
    assert "exists already; not overwriting" in r.stderr, r.stderr
    assert open(conf).read() == before


@suite.case
def generates_a_password_when_none_is_given(d):
    r = init(d, password=None)
    assert r.returncode == 0, r.stderr
    m = re.search(r"password \(shown once\): (\S+)", r.stdout)
    assert m, r.stdout
    c = subprocess.run([TERN, "--config", os.path.join(d, "etc", "tern.conf"), "user", "show",
                        "admin@example.org"], capture_output=True, text=True)
    assert c.returncode == 0 and "role: user" in c.stdout, c.stdout + c.stderr
    c = subprocess.run([TERN, "--config", os.path.join(d, "etc", "tern.conf"), "alias", "list"],
                       capture_output=True, text=True)
    assert "postmaster@example.org" in c.stdout and "admin@example.org" in c.stdout, c.stdout


@suite.case
def rejects_bad_input(d):
    r = init(d, "--admin", "root@elsewhere.test")
    assert r.returncode == 2 and "--admin must be an address at example.org" in r.stderr, r.stderr
    r = subprocess.run([TERN, "init", "--config", os.path.join(d, "x.conf")], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True)
    assert r.returncode == 2 and "--domain is required" in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(d, "x.conf"))


suite.run(fixture, lambda d: shutil.rmtree(d, ignore_errors=True))
