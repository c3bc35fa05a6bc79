"""End-to-end tests of outbound delivery: a Tern (the sender, "A") delivers
by DNS MX, asked of a real DNS server on loopback (tests/e2e/dnsserver.py),
to real receiving servers on other 127.0.0.x addresses: a second Tern
("B"), Postfix's smtp-sink, and nothing at all (connection refused).
Bounces are read back from the sender's INBOX and parsed as RFC 3464
DSNs."""

import email
import email.policy
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from dnsserver import DNSServer  # noqa: E402
from harness import Suite, free_ports  # noqa: E402
from mailcheck import Servers, fetch_all, submission, teardown  # noqa: E402

suite = Suite()

SINK = "/usr/sbin/smtp-sink"


def zone():
    return {
        # preference 10 refuses connections; 20 is Tern B
        "example.net": {"MX": [[20, "mx2.example.net"], [10, "mx1.example.net"]]},
        "mx1.example.net": {"A": ["127.0.0.3"]},
        "mx2.example.net": {"A": ["127.0.0.2"]},
        # no MX: the domain's own address (RFC 5321 5.1)
        "example.com": {"A": ["127.0.0.2"]},
        # null MX (RFC 7505)
        "nomail.example": {"MX": [[0, "."]]},
        # a destination that is down until a test starts something there
        "down.example": {"MX": [[10, "mx.down.example"]]},
        "mx.down.example": {"A": ["127.0.0.4"]},
        # the smarthost's name, as its certificate says
        "mail.example.test": {"A": ["127.0.0.1"]},
        # Postfix's smtp-sink
        "sink.example": {"MX": [[10, "mx.sink.example"]]},
        "mx.sink.example": {"A": ["127.0.0.5"]},
        # a real Postfix (tests/e2e/postfix.py)
        "postfix.example": {"MX": [[10, "mx.postfix.example"]]},
        "mx.postfix.example": {"A": ["127.0.0.6"]},
    }


class Fixture:
    def __init__(self):
        self.servers = Servers()
        self.dns = DNSServer(zone())
        self.dns.start()
        self.mx_port = free_ports(1)[0]
        self.sinks = []
        self.tmp = tempfile.mkdtemp(prefix="tern-delivery-")
        os.chmod(self.tmp, 0o755)   # smtp-sink writes as nobody

    def sender(self, extra="", retry="1h"):
        conf = ("[delivery]\nresolver = 127.0.0.1:%d\ndnssec_trust_anchor = none\nmx_port = %d\n"
                "retry_delay = %s\n%s" % (self.dns.port, self.mx_port, retry, extra))
        return self.servers.std(users=("alice@example.test",), extra=conf)

    def destination(self, host="127.0.0.2", checks=False):
        """Tern B; checks: it runs SPF/DKIM/DMARC on what arrives, asking
        the fixture's DNS server."""
        extra = ""
        if checks:
            extra = ("[inbound]\nchecks = yes\n[delivery]\nresolver = 127.0.0.1:%d\n"
                     "dnssec_trust_anchor = none\n" % self.dns.port)
        b = self.servers.bare(listen={"smtp": (host, self.mx_port)}, extra=extra)
        b.cli("domain", "add", "example.net")
        b.cli("domain", "add", "example.com")
        b.add_user("friend@example.net")
        b.add_user("other@example.net")
        b.add_user("someone@example.com")
        return b.start()

    def sink(self, host, *options):
        """smtp-sink on host:mx_port; returns the directory it dumps to."""
        dump = tempfile.mkdtemp(dir=self.tmp)
        os.chmod(dump, 0o777)
        p = subprocess.Popen([SINK, "-u", "nobody", "-d", dump + "/%M."] + list(options) +
                             ["%s:%d" % (host, self.mx_port), "100"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.sinks.append(p)
        deadline = time.time() + 10
        while time.time() < deadline:
            import socket
            try:
                socket.create_connection((host, self.mx_port), timeout=1).close()
                return dump
            except OSError:
                time.sleep(0.05)
        raise AssertionError("smtp-sink did not start: %s" % p.stderr.read())

    def close(self):
        for p in self.sinks:
            p.terminate()
            p.wait()
        self.dns.stop()
        errors = []
        for s in self.servers.list:
            try:
                teardown(s)
            except AssertionError as e:
                errors.append(str(e))
        subprocess.run(["rm", "-rf", self.tmp])
        if errors:
            raise AssertionError("; ".join(errors))


def submit(a, rcpts, subject="outbound", body="Hello out there.\r\n", sender="alice@example.test"):
    """Submits as alice; returns the queue id from "250 ... queued as ID"."""
    s = submission(a, "alice@example.test")
    try:
        msg = ("From: Alice <%s>\r\nTo: %s\r\nSubject: %s\r\nDate: Mon, 07 Dec 2026 10:00:00 +0000\r\n"
               "Message-ID: <%s@example.test>\r\n\r\n%s" % (sender, ", ".join(rcpts), subject,
                                                               os.urandom(8).hex(), body)).encode()
        code, _ = s.mail(sender)
        assert code == 250, code
        for r in rcpts:
            code, text = s.rcpt(r)
            assert code == 250, (r, code, text)
        code, text = s.data(msg)
        assert code == 250, (code, text)
        m = re.search(rb"queued as (\S+)", text)
        assert m, text
        return m.group(1).decode()
    finally:
        s.quit()


def wait(what, fn, timeout=60):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.1)


def inbox(srv, user):
    return [email.message_from_bytes(m, policy=email.policy.default) for m in fetch_all(srv, user)]


def queue_list(a):
    return a.cli("queue", "list").stdout


def dsn_fields(msg):
    """(per-message fields, [per-recipient fields]) of an RFC 3464 DSN."""
    assert msg.get_content_type() == "multipart/report", msg.get_content_type()
    assert msg.get_param("report-type") == "delivery-status", msg["Content-Type"]
    assert msg.get("From", "").find("MAILER-DAEMON@") >= 0, msg["From"]
    parts = list(msg.iter_parts())
    assert len(parts) == 3, [p.get_content_type() for p in parts]
    assert parts[0].get_content_type() == "text/plain"
    assert parts[1].get_content_type() == "message/delivery-status"
    assert parts[2].get_content_type() == "text/rfc822-headers"
    blocks = parts[1].get_payload()
    return blocks[0], blocks[1:], parts[2].get_content()


def case(fn):
    def run(f):
        fn(f)
    run.__name__ = fn.__name__
    suite.case(run)
    return fn


@case
def mx_preference_and_fallback(f):
    """The lowest preference first (it refuses), then the next MX: Tern B."""
    a = f.sender()
    b = f.destination()
    qid = submit(a, ["friend@example.net"], subject="by MX")
    got = wait("delivery to B", lambda: inbox(b, "friend@example.net"))
    assert got[0]["Subject"] == "by MX", got[0]["Subject"]
    # the one id: in the 250 reply, the log lines, and no longer queued
    wait("queue empty", lambda: "queue is empty" in queue_list(a))
    log = open(a.log_path, encoding="utf-8", errors="replace").read()
    assert re.search(r"queue %s to=<friend@example.net> relay=mx2.example.net status=sent" % qid, log), log[-2000:]
    assert re.search(r"queue dest=example.net host=mx1.example.net .*failed", log), "mx1 not tried first"
    # B received it over TLS (opportunistic STARTTLS)
    assert "TLS" in str(got[0].get_all("Received")), got[0].get_all("Received")


@case
def no_mx_falls_back_to_address(f):
    a = f.sender()
    b = f.destination()
    submit(a, ["someone@example.com"], subject="implicit MX")
    got = wait("delivery to B", lambda: inbox(b, "someone@example.com"))
    assert got[0]["Subject"] == "implicit MX"


@case
def null_mx_bounces_at_once(f):
    a = f.sender()
    qid = submit(a, ["nobody@nomail.example"], subject="to a null MX")
    dsns = wait("bounce", lambda: inbox(a, "alice@example.test"))
    per_msg, per_rcpt, headers = dsn_fields(dsns[0])
    assert per_msg["X-Tern-Queue-ID"] == qid, per_msg
    assert per_rcpt[0]["Final-Recipient"].endswith("nobody@nomail.example"), per_rcpt[0]
    assert per_rcpt[0]["Action"] == "failed"
    assert per_rcpt[0]["Status"] == "5.1.10", per_rcpt[0]["Status"]
    assert "Subject: to a null MX" in headers, headers
    wait("queue empty", lambda: "queue is empty" in queue_list(a))


@case
def unknown_domain_bounces(f):
    a = f.sender()
    submit(a, ["x@no-such-domain.example"])
    dsns = wait("bounce", lambda: inbox(a, "alice@example.test"))
    _, per_rcpt, _ = dsn_fields(dsns[0])
    assert per_rcpt[0]["Status"] == "5.1.2", per_rcpt[0]["Status"]


@case
def mixed_results_one_bounce(f):
    """One recipient taken, one refused with 550: the sender hears about
    the refused one only, with the remote server's words."""
    a = f.sender()
    b = f.destination()
    submit(a, ["friend@example.net", "ghost@example.net"], subject="mixed")
    wait("delivery to B", lambda: inbox(b, "friend@example.net"))
    dsns = wait("bounce", lambda: inbox(a, "alice@example.test"))
    assert len(dsns) == 1
    _, per_rcpt, headers = dsn_fields(dsns[0])
    assert len(per_rcpt) == 1, per_rcpt
    assert per_rcpt[0]["Final-Recipient"].endswith("ghost@example.net")
    assert per_rcpt[0]["Status"] == "5.1.1", per_rcpt[0]["Status"]
    assert per_rcpt[0]["Remote-MTA"] == "dns; mx2.example.net", per_rcpt[0]["Remote-MTA"]
    assert "550" in per_rcpt[0]["Diagnostic-Code"], per_rcpt[0]["Diagnostic-Code"]
    assert "Subject: mixed" in headers
    wait("queue empty", lambda: "queue is empty" in queue_list(a))


@case
def destination_down_then_flush(f):
    """Connection refused is temporary: the message waits, `tern queue
    list` says why, and `tern queue flush` delivers once the server is up."""
    a = f.sender()
    qids = [submit(a, ["friend@down.example"], subject="patience %d" % i) for i in range(4)]
    out = wait("deferral", lambda: (lambda o: o.count("attempts=1") == 4 and o)(queue_list(a)))
    assert all(q in out for q in qids) and "to=<friend@down.example> pending" in out, out
    # a few connection attempts, not a reconnection loop
    time.sleep(1)
    log = open(a.log_path, encoding="utf-8", errors="replace").read()
    assert log.count("queue dest=down.example host=mx.down.example") <= 8, log[-3000:]
    dump = f.sink("127.0.0.4")
    a.cli("queue", "flush")
    wait("delivery to the sink", lambda: len(os.listdir(dump)) == 4)
    wait("queue empty", lambda: "queue is empty" in queue_list(a))
    assert inbox(a, "alice@example.test") == [], "a bounce for a delivered message"


@case
def soft_refusal_then_flush(f):
    """A 4xx to RCPT defers; after the destination relents, a flush of
    that domain delivers; nothing is bounced."""
    a = f.sender()
    sink = f.sink("127.0.0.5", "-r", "RCPT")
    submit(a, ["x@sink.example"], subject="soft")
    out = wait("deferral", lambda: (lambda o: "attempts=1" in o and o)(queue_list(a)))
    assert re.search(r"to=<x@sink.example> pending: 4\d\d", out), out
    f.sinks.pop().terminate()
    time.sleep(0.2)
    dump = f.sink("127.0.0.5")
    a.cli("queue", "flush", "--domain", "sink.example")
    wait("delivery to the sink", lambda: os.listdir(dump))
    wait("queue empty", lambda: "queue is empty" in queue_list(a))
    assert inbox(a, "alice@example.test") == []
    del sink


@case
def hold_release_delete(f):
    a = f.sender()
    qid = submit(a, ["friend@down.example"])
    wait("deferral", lambda: "attempts=1" in queue_list(a))
    a.cli("queue", "hold", qid)
    assert "(held)" in queue_list(a)
    show = a.cli("queue", "show", qid).stdout
    assert "from=<alice@example.test>" in show and "| Subject: outbound" in show, show
    a.cli("queue", "release", qid)
    assert "(held)" not in queue_list(a)
    # delete with a bounce: the sender is told
    a.cli("queue", "delete", qid)
    dsns = wait("bounce", lambda: inbox(a, "alice@example.test"))
    _, per_rcpt, _ = dsn_fields(dsns[0])
    assert per_rcpt[0]["Status"] == "5.0.0", per_rcpt[0]
    wait("queue empty", lambda: "queue is empty" in queue_list(a))
    # delete --no-bounce: silently
    qid = submit(a, ["friend@down.example"])
    a.cli("queue", "delete", "--no-bounce", qid)
    assert "queue is empty" in queue_list(a)
    time.sleep(0.5)
    assert len(inbox(a, "alice@example.test")) == 1
    r = a.cli("queue", "show", qid, check=False)
    assert r.returncode != 0 and "no such message" in r.stderr, r.stderr


@case
def delay_warning_then_expiry(f):
    """With short settings: a warning (Action: delayed) after delay_warning,
    then a bounce (Status 4.4.7) after max_age."""
    a = f.sender("delay_warning = 1\nmax_age = 4\nretry_max = 1\n", retry="1")
    submit(a, ["friend@down.example"], subject="late")
    dsns = wait("two notices", lambda: (lambda m: len(m) >= 2 and m)(inbox(a, "alice@example.test")))
    kinds = []
    for d in dsns:
        _, per_rcpt, _ = dsn_fields(d)
        kinds.append((per_rcpt[0]["Action"], per_rcpt[0]["Status"]))
    assert kinds[0][0] == "delayed", kinds
    assert kinds[1] == ("failed", "4.4.7"), kinds
    wait("queue empty", lambda: "queue is empty" in queue_list(a))


@case
def alias_forwards_outside(f):
    """Mail from another server to an alias whose target is elsewhere is
    forwarded through the queue."""
    a = f.sender()
    b = f.destination()
    a.cli("alias", "add", "fwd@example.test", "friend@example.net")
    import smtplib
    s = smtplib.SMTP("127.0.0.1", a.port("smtp"), local_hostname="peer.example.org", timeout=15)
    s.sendmail("someone@example.org", ["fwd@example.test"],
               b"From: <someone@example.org>\r\nTo: <fwd@example.test>\r\nSubject: forwarded\r\n\r\nhi\r\n")
    s.quit()
    got = wait("delivery to B", lambda: inbox(b, "friend@example.net"))
    assert got[0]["Subject"] == "forwarded"


@case
def restart_keeps_the_queue(f):
    """Queued entries survive a restart and are delivered after it."""
    a = f.sender()
    submit(a, ["friend@example.net"], subject="survivor")
    wait("deferral", lambda: "attempts=1" in queue_list(a))
    assert a.stop() == 0
    b = f.destination()
    a.start()
    a.cli("queue", "flush")
    got = wait("delivery to B", lambda: inbox(b, "friend@example.net"))
    assert got[0]["Subject"] == "survivor"


def dns_txt_line(line):
    """(name, value) of `NAME. IN TXT "a" "b"` as tern dkim generate prints it."""
    name = line.split()[0].rstrip(".")
    return name, "".join(re.findall(r'"([^"]*)"', line))


@case
def dkim_signed_on_the_way_out(f):
    """A key made with `tern dkim generate` signs what goes out; an
    independent verifier (dkimpy) checks the copy the destination stored,
    with the record generate printed."""
    import dkim
    a = f.sender()
    b = f.destination(checks=True)
    records = {}
    for alg in ("rsa", "ed25519"):
        out = a.cli("dkim", "generate", "example.test", "--selector", "s" + alg, "--algorithm", alg).stdout
        name, value = dns_txt_line(out.strip().splitlines()[-1])
        records[name] = value
    # published, so that B (and anyone) can check the signatures
    z = zone()
    for name, value in records.items():
        z[name] = {"TXT": [value]}
    f.dns.set(z)
    # the newest key signs: make that the RSA one, whatever the clock did
    keydir = os.path.join(a.data, "dkim", "example.test")
    now = time.time()
    os.utime(os.path.join(keydir, "sed25519.pem"), (now - 100, now - 100))
    os.utime(os.path.join(keydir, "srsa.pem"), (now, now))
    a.cli("queue", "flush")   # loads the new keys at once
    submit(a, ["friend@example.net"], subject="signed", body="Line one.\r\n.dot line\r\n\r\n\r\n")
    got = wait("delivery to B", lambda: fetch_all(b, "friend@example.net"))
    raw = got[0]
    assert b"DKIM-Signature:" in raw, raw[:500]

    def dnsfunc(name, timeout=5):
        n = name.decode() if isinstance(name, bytes) else name
        return records.get(n.rstrip("."), "").encode()
    assert dkim.verify(raw, dnsfunc=dnsfunc), "dkimpy does not verify the signature"
    # and B, the receiving Tern, checked it too
    ar = [l for l in raw.split(b"\r\n") if l.startswith(b"Authentication-Results: mail.example.test;")]
    assert ar and b"dkim=pass header.d=example.test header.s=srsa" in b" ".join(raw.split()), raw[:900]
    # without the RSA key the ed25519 one signs
    assert b"a=rsa-sha256" in raw and b"s=srsa" in raw, raw[:600]
    os.unlink(os.path.join(keydir, "srsa.pem"))
    a.cli("queue", "flush")
    submit(a, ["friend@example.net"], subject="signed again")
    got = wait("second delivery", lambda: (lambda m: len(m) == 2 and m)(fetch_all(b, "friend@example.net")))
    raw = [m for m in got if b"signed again" in m][0]
    assert b"a=ed25519-sha256" in raw, raw[:600]
    assert dkim.verify(raw, dnsfunc=dnsfunc), "dkimpy does not verify the ed25519 signature"


@case
def relay_with_auth_and_tls(f):
    """[delivery] relay: everything goes to the smarthost (here Tern B's
    submission port, AUTH required), over TLS with its certificate checked,
    authenticated; nothing is looked up by MX."""
    from harness import PASSWORD, certificate
    b = f.destination()
    b.cli("alias", "add", "alice@example.test", "friend@example.net")   # friend may send as alice
    a = f.sender("relay = mail.example.test:%d\nrelay_user = friend@example.net\nrelay_password = %s\n"
                 "ca_file = %s\n" % (b.port("submission"), PASSWORD, certificate()[0]))
    submit(a, ["someone@example.com"], subject="via the smarthost")
    got = wait("delivery through B", lambda: inbox(b, "someone@example.com"))
    assert got[0]["Subject"] == "via the smarthost"
    rcvd = str(got[0].get_all("Received"))
    assert "ESMTPSA" in rcvd or "authenticated" in rcvd.lower(), rcvd
    log = open(a.log_path, encoding="utf-8", errors="replace").read()
    assert "relay=mail.example.test status=sent" in log, log[-1500:]


@case
def relay_refuses_a_bad_certificate(f):
    """With a relay password, a certificate that does not verify is a
    temporary failure: the password is never sent, the message waits."""
    from harness import PASSWORD
    b = f.destination()
    a = f.sender("relay = mail.example.test:%d\nrelay_user = friend@example.net\nrelay_password = %s\n"
                 % (b.port("submission"), PASSWORD))
    qid = submit(a, ["someone@example.com"], subject="not over a bad certificate")
    out = wait("deferral", lambda: (lambda o: "attempts=1" in o and o)(queue_list(a)))
    assert qid in out and "pending: " in out, out
    log = open(b.log_path, encoding="utf-8", errors="replace").read()
    assert "auth user=friend@example.net" not in log, "the password went to an unverified server"


@case
def postfix_as_destination(f):
    """A real Postfix (virtual mailboxes, STARTTLS offered) takes a message
    by MX and stores it in a Maildir: the body arrives byte for byte and
    over TLS; an unknown user there gets Postfix's 550 5.1.1, which comes
    back to the sender as a DSN."""
    import postfix
    from harness import certificate
    from mailcheck import first_diff
    if os.geteuid() != 0 or not postfix.available():
        print("# skipped postfix_as_destination: needs root and Debian's postfix")
        return
    cert, key = certificate()
    pf = postfix.Postfix("127.0.0.6", f.mx_port, domains=["postfix.example"],
                         mailboxes=["someone@postfix.example"], cert=cert, key=key, parent=f.tmp)
    try:
        pf.start()
        postfix_destination_checks(f, pf, first_diff)
    finally:
        pf.stop()


def postfix_destination_checks(f, pf, first_diff):
    a = f.sender()
    # dots, blank lines, trailing blanks, a "From " line, 16 KB of lines
    body = ("Hello Postfix.\r\n.leading dot\r\n..two dots\r\n.\r\nFrom the top, not mbox\r\n"
            "trailing blanks \t \r\n\r\n" +
            "".join("line %05d %s\r\n" % (i, "x" * (i % 90)) for i in range(300)) + "\r\n\r\n")
    qid = submit(a, ["someone@postfix.example"], subject="to postfix", body=body)
    got = wait("delivery to postfix", lambda: pf.messages("someone@postfix.example"))
    assert len(got) == 1, len(got)
    head, sep, stored = got[0].partition(b"\n\n")
    assert sep, got[0][:500]
    assert stored == body.encode().replace(b"\r\n", b"\n"), "body differs at byte %d" % first_diff(
        stored, body.encode().replace(b"\r\n", b"\n"))
    msg = email.message_from_bytes(got[0], policy=email.policy.default)
    assert msg["Subject"] == "to postfix", msg["Subject"]
    assert msg["Delivered-To"] == "someone@postfix.example", msg["Delivered-To"]
    # Postfix's own Received header (the first): over STARTTLS, from Tern
    received = str(msg.get_all("Received")[0])
    assert "with ESMTPS" in received and "using TLS" in received, received
    wait("queue empty", lambda: "queue is empty" in queue_list(a))
    log = open(a.log_path, encoding="utf-8", errors="replace").read()
    assert re.search(r"queue %s to=<someone@postfix.example> relay=mx.postfix.example status=sent" % qid,
                     log), log[-2000:]

    # an unknown user: Postfix refuses at RCPT, the sender gets a DSN
    qid = submit(a, ["nobody-here@postfix.example"], subject="to no one")
    dsns = wait("bounce", lambda: inbox(a, "alice@example.test"))
    per_msg, per_rcpt, headers = dsn_fields(dsns[0])
    assert per_msg["X-Tern-Queue-ID"] == qid, per_msg
    assert per_rcpt[0]["Final-Recipient"].endswith("nobody-here@postfix.example"), per_rcpt[0]
    assert per_rcpt[0]["Action"] == "failed", per_rcpt[0]["Action"]
    assert per_rcpt[0]["Status"] == "5.1.1", per_rcpt[0]["Status"]
    assert per_rcpt[0]["Remote-MTA"] == "dns; mx.postfix.example", per_rcpt[0]["Remote-MTA"]
    assert "550" in per_rcpt[0]["Diagnostic-Code"], per_rcpt[0]["Diagnostic-Code"]
    assert "Subject: to no one" in headers, headers
    wait("queue empty", lambda: "queue is empty" in queue_list(a))
    assert len(pf.messages("someone@postfix.example")) == 1
    assert "NOQUEUE: reject: RCPT from" in pf.log(), pf.tail()


def setup():
    return Fixture()


def teardown_fixture(f):
    f.close()


if __name__ == "__main__":
    if not os.path.exists(SINK):
        print("not ok smtp-sink missing (install postfix: scripts/deps.sh)")
        sys.exit(1)
    suite.run(setup, teardown_fixture)
