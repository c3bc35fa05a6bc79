"""End-to-end tests of DANE for SMTP (RFC 7672) with real DNSSEC: a zone
dane.example signed with ldns-keygen/ldns-signzone, served by NSD on
loopback, asked by the sending Tern (libunbound, forwarding to NSD, with
the zone's DS record as its only trust anchor, so validation runs from
that key down: DNSKEY, RRSIGs, NSEC3 denials).  The destination is a
second Tern on 127.0.0.2 with the harness certificate; its TLSA record is
`3 1 1 <SHA-256 of the certificate's SubjectPublicKeyInfo>` (DANE-EE).

Needs nsd and ldnsutils (scripts/deps.sh)."""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Suite, certificate, free_ports  # noqa: E402
from test_delivery import Fixture, inbox, queue_list, submit, wait  # noqa: E402

suite = Suite()

NSD = "/usr/sbin/nsd"
ZONE = "dane.example"
MX = "mx." + ZONE


def spki_sha256(cert_pem):
    """SHA-256 of the certificate's DER SubjectPublicKeyInfo (TLSA selector 1, mtype 1)."""
    pub = subprocess.run(["openssl", "x509", "-in", cert_pem, "-noout", "-pubkey"],
                         check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                         check=True, capture_output=True).stdout
    return hashlib.sha256(der).hexdigest()


class SignedZone:
    """dane.example, signed, served by NSD on 127.0.0.1:port.  The keys are
    made once; publish() re-signs the zone with them and restarts NSD on
    the same port, so the trust anchor (the KSK's DS) stays valid."""

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "nsd")
        os.mkdir(self.dir)
        self.port = free_ports(1)[0]
        self.proc = None
        run = lambda *a: subprocess.run(a, cwd=self.dir, check=True, capture_output=True,  # noqa: E731
                                        text=True).stdout.strip()
        self.ksk = run("ldns-keygen", "-a", "ECDSAP256SHA256", "-k", ZONE)
        self.zsk = run("ldns-keygen", "-a", "ECDSAP256SHA256", ZONE)
        # ldns-keygen -k writes the KSK's DS: the sender's trust anchor
        self.trust_anchor = os.path.join(self.dir, self.ksk + ".ds")
        with open(os.path.join(self.dir, "nsd.conf"), "w") as f:
            f.write("server:\n"
                    "    ip-address: 127.0.0.1\n"
                    "    port: %d\n"
                    "    username: \"\"\n"
                    "    chroot: \"\"\n"
                    "    zonesdir: \"%s\"\n"
                    "    database: \"\"\n"
                    "    pidfile: \"%s/nsd.pid\"\n"
                    "    xfrdfile: \"%s/xfrd.state\"\n"
                    "    zonelistfile: \"%s/zone.list\"\n"
                    "    logfile: \"%s/nsd.log\"\n"
                    "    server-count: 1\n"
                    "    verbosity: 1\n"
                    "remote-control:\n"
                    "    control-enable: no\n"
                    "zone:\n"
                    "    name: %s\n"
                    "    zonefile: %s.zone.signed\n"
                    % ((self.port,) + (self.dir,) * 5 + (ZONE, ZONE)))

    def publish(self, mx_port, tlsa=None, corrupt_tlsa_signature=False):
        """Signs the zone with an MX, its address and, if given, a TLSA
        record at _<mx_port>._tcp.mx ("3 1 1 HEX"); (re)starts NSD.
        corrupt_tlsa_signature breaks the TLSA record's RRSIG: a bogus
        answer."""
        # a TTL of 1 s: a re-signed zone is seen at once by the sender's
        # libunbound cache
        lines = ["$ORIGIN %s." % ZONE, "$TTL 1",
                 "@ IN SOA ns.%s. hostmaster.%s. %d 3600 900 604800 1" % (ZONE, ZONE, int(time.time())),
                 "@ IN NS ns.%s." % ZONE,
                 "ns IN A 127.0.0.1",
                 "@ IN MX 10 %s." % MX,
                 "mx IN A 127.0.0.2"]
        if tlsa is not None:
            lines.append("_%d._tcp.mx IN TLSA %s" % (mx_port, tlsa))
        zone = os.path.join(self.dir, ZONE + ".zone")
        with open(zone, "w") as f:
            f.write("\n".join(lines) + "\n")
        # -n: NSEC3 denials
        subprocess.run(["ldns-signzone", "-n", zone, self.ksk, self.zsk], cwd=self.dir, check=True,
                       capture_output=True)
        if corrupt_tlsa_signature:
            signed = zone + ".signed"
            text = open(signed).read()
            m = re.search(r"^(_\d+\._tcp\.mx\S*\s+\d+\s+IN\s+RRSIG\s+TLSA .* )(\S)(\S*)$", text, re.M)
            assert m, "no RRSIG TLSA in the signed zone"
            flipped = "B" if m.group(2) != "B" else "C"
            text = text[:m.start(2)] + flipped + text[m.end(2):]
            open(signed, "w").write(text)
        self.stop()
        log = os.path.join(self.dir, "nsd.log")
        if os.path.exists(log):
            os.unlink(log)
        self.proc = subprocess.Popen([NSD, "-d", "-c", os.path.join(self.dir, "nsd.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 20
        while True:
            text = open(log).read() if os.path.exists(log) else ""
            if "nsd started" in text and "read with success" in text:
                return
            if self.proc.poll() is not None or time.time() > deadline:
                raise AssertionError("nsd did not start: %s %s" % (text, self.proc.stderr.read()))
            time.sleep(0.05)

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait()
            self.proc = None


class DaneFixture(Fixture):
    def __init__(self):
        super().__init__()
        self.zone = SignedZone(self.tmp)

    def dane_sender(self):
        conf = ("[delivery]\nresolver = 127.0.0.1:%d\ndnssec_trust_anchor = %s\nmx_port = %d\n"
                "retry_delay = 1h\ntls = dane\n" % (self.zone.port, self.zone.trust_anchor, self.mx_port))
        return self.servers.std(users=("alice@example.test",), extra=conf)

    def dane_destination(self):
        b = self.servers.bare(listen={"smtp": ("127.0.0.2", self.mx_port)})
        b.cli("domain", "add", ZONE)
        b.add_user("friend@" + ZONE)
        return b.start()

    def close(self):
        self.zone.stop()
        super().close()


def log_of(srv):
    return open(srv.log_path, encoding="utf-8", errors="replace").read()


def case(fn):
    suite.case(fn)
    return fn


@case
def dane_matching_tlsa_delivers(f):
    """A secure MX with a TLSA record matching B's key: the session uses
    DANE, the certificate is verified against the record, and the
    message is delivered."""
    f.zone.publish(f.mx_port, tlsa="3 1 1 " + spki_sha256(certificate()[0]))
    b = f.dane_destination()
    a = f.dane_sender()
    qid = submit(a, ["friend@" + ZONE], subject="under DANE")
    got = wait("delivery to B", lambda: inbox(b, "friend@" + ZONE))
    assert got[0]["Subject"] == "under DANE"
    wait("queue empty", lambda: "queue is empty" in queue_list(a))
    log = log_of(a)
    # the MX and its TLSA answer were DNSSEC-secure
    assert re.search(r"queue dest=%s host=%s dane=yes tlsa=1 usable=1" % (ZONE, MX), log), log[-3000:]
    assert re.search(r"mta \S+ connected peer=127\.0\.0\.2:%d tls=dane" % f.mx_port, log), log[-3000:]
    assert re.search(r"mta \S+ tls peer=127\.0\.0\.2:%d .* dane=verified tlsa=\"3 1 1 depth=0\"" % f.mx_port,
                     log), log[-3000:]
    assert re.search(r"queue %s to=<friend@%s> relay=%s status=sent" % (qid, ZONE, MX), log), log[-3000:]


@case
def dane_mismatch_defers_without_plain_text(f):
    """A TLSA record that matches nothing: the handshake fails, the
    message waits with the TLS error, and there is no retry in plain text
    (which opportunistic TLS would do)."""
    f.zone.publish(f.mx_port, tlsa="3 1 1 " + "00" * 32)
    b = f.dane_destination()
    a = f.dane_sender()
    qid = submit(a, ["friend@" + ZONE], subject="not to an impostor")
    out = wait("deferral", lambda: (lambda o: "attempts=1" in o and o)(queue_list(a)))
    assert qid in out and "pending: " in out, out
    assert re.search(r"pending: .*(TLS|TLSA|DANE)", out, re.I), out
    log = log_of(a)
    assert re.search(r"mta \S+ connected peer=127\.0\.0\.2:%d tls=dane" % f.mx_port, log), log[-3000:]
    assert re.search(r"tls=dane failed: .*no matching DANE TLSA records", log, re.I), log[-3000:]
    assert not re.search(r"connected peer=127\.0\.0\.2:%d tls=none" % f.mx_port, log), "retried in plain text"
    assert len(re.findall(r"mta \S+ connected peer=127\.0\.0\.2", log)) == 1, log[-3000:]
    time.sleep(1)
    assert " message id=" not in log_of(b), "B received a message"
    assert inbox(b, "friend@" + ZONE) == []
    assert "status=sent" not in log_of(a)


@case
def dane_no_tlsa_is_opportunistic(f):
    """The same zone re-signed without the TLSA record (a secure NXDOMAIN
    for _port._tcp.mx): not DANE, opportunistic TLS, delivered.  Starts
    from the mismatching record, so the change is seen by a running
    sender: the deferred message goes after a flush."""
    f.zone.publish(f.mx_port, tlsa="3 1 1 " + "00" * 32)
    b = f.dane_destination()
    a = f.dane_sender()
    submit(a, ["friend@" + ZONE], subject="after the record went")
    wait("deferral", lambda: "attempts=1" in queue_list(a))
    f.zone.publish(f.mx_port, tlsa=None)
    time.sleep(2)   # the 1 s TTLs run out
    a.cli("queue", "flush")
    got = wait("delivery to B", lambda: inbox(b, "friend@" + ZONE))
    assert got[0]["Subject"] == "after the record went"
    log = log_of(a)
    assert re.search(r"queue dest=%s host=%s dane=no tlsa=nxdomain\n" % (ZONE, MX), log), log[-3000:]
    assert re.search(r"connected peer=127\.0\.0\.2:%d tls=opportunistic" % f.mx_port, log), log[-3000:]
    assert "TLS" in str(got[0].get_all("Received")), got[0].get_all("Received")


@case
def dane_bogus_tlsa_host_not_used(f):
    """A TLSA answer whose signature does not verify (bogus) below a secure
    MX: the host is not used at all, never downgraded (RFC 7672 2.2.1);
    the message waits."""
    f.zone.publish(f.mx_port, tlsa="3 1 1 " + spki_sha256(certificate()[0]), corrupt_tlsa_signature=True)
    b = f.dane_destination()
    a = f.dane_sender()
    submit(a, ["friend@" + ZONE], subject="bogus")
    out = wait("deferral", lambda: (lambda o: "attempts=1" in o and o)(queue_list(a)))
    assert re.search(r"pending: .*TLSA lookup failed", out), out
    log = log_of(a)
    assert re.search(r"queue dest=%s host=%s dane=failed tlsa=permfail" % (ZONE, MX), log), log[-3000:]
    assert "connected peer=127.0.0.2" not in log, "a session to a host whose TLSA lookup failed"
    assert inbox(b, "friend@" + ZONE) == []


def ca_and_leaf(tmp, names):
    """A CA and a certificate it signed for names (subjectAltName DNS);
    returns (ca.pem, chain.pem with leaf then CA, key.pem)."""
    d = tempfile.mkdtemp(dir=tmp)
    run = lambda *a: subprocess.run(a, cwd=d, check=True, capture_output=True)  # noqa: E731
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-days", "2", "-subj", "/CN=Test DANE CA", "-keyout", "ca.key", "-out", "ca.pem",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-subj", "/CN=" + names[0], "-keyout", "key.pem", "-out", "leaf.csr")
    with open(os.path.join(d, "ext"), "w") as f:
        f.write("subjectAltName=" + ",".join("DNS:" + n for n in names) + "\n")
    run("openssl", "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-extfile", "ext", "-out", "leaf.pem")
    with open(os.path.join(d, "chain.pem"), "w") as f:
        f.write(open(os.path.join(d, "leaf.pem")).read() + open(os.path.join(d, "ca.pem")).read())
    return os.path.join(d, "ca.pem"), os.path.join(d, "chain.pem"), os.path.join(d, "key.pem")


@case
def dane_ta_checks_names(f):
    """DANE-TA(2): a chain to the record's CA, for a name RFC 7672 3.2.2
    allows: here the next-hop domain (dane.example), not the MX host
    name."""
    ca, chain, key = ca_and_leaf(f.tmp, [ZONE])
    f.zone.publish(f.mx_port, tlsa="2 1 1 " + spki_sha256(ca))
    b = f.servers.bare(listen={"smtp": ("127.0.0.2", f.mx_port)}, tls=False,
                       extra="[tls]\ncert = %s\nkey = %s\n" % (chain, key))
    b.cli("domain", "add", ZONE)
    b.add_user("friend@" + ZONE)
    b.start()
    a = f.dane_sender()
    submit(a, ["friend@" + ZONE], subject="through a DANE-TA chain")
    got = wait("delivery to B", lambda: inbox(b, "friend@" + ZONE))
    assert got[0]["Subject"] == "through a DANE-TA chain"
    assert re.search(r"dane=verified tlsa=\"2 1 1 depth=1\"", log_of(a)), log_of(a)[-3000:]


@case
def dane_ta_wrong_name_defers(f):
    """DANE-TA(2) with a chain to the record's CA, but for a name that is
    neither the MX host nor the next-hop domain: the message waits."""
    ca, chain, key = ca_and_leaf(f.tmp, ["mail.elsewhere.example"])
    f.zone.publish(f.mx_port, tlsa="2 1 1 " + spki_sha256(ca))
    b = f.servers.bare(listen={"smtp": ("127.0.0.2", f.mx_port)}, tls=False,
                       extra="[tls]\ncert = %s\nkey = %s\n" % (chain, key))
    b.cli("domain", "add", ZONE)
    b.add_user("friend@" + ZONE)
    b.start()
    a = f.dane_sender()
    submit(a, ["friend@" + ZONE], subject="wrong name")
    out = wait("deferral", lambda: (lambda o: "attempts=1" in o and o)(queue_list(a)))
    assert re.search(r"pending: .*hostname mismatch", out, re.I), out
    assert inbox(b, "friend@" + ZONE) == []


@case
def dane_unusable_tlsa_requires_tls(f):
    """Secure TLSA records none of which SMTP may use (PKIX-EE(1), RFC
    7672 3.1.3): TLS is required but not authenticated (2.2); delivered
    over TLS."""
    f.zone.publish(f.mx_port, tlsa="1 1 1 " + spki_sha256(certificate()[0]))
    b = f.dane_destination()
    a = f.dane_sender()
    submit(a, ["friend@" + ZONE], subject="encrypted anyway")
    got = wait("delivery to B", lambda: inbox(b, "friend@" + ZONE))
    assert "TLS" in str(got[0].get_all("Received")), got[0].get_all("Received")
    log = log_of(a)
    assert "host=%s dane=unusable tlsa=1" % MX in log, log[-3000:]
    assert re.search(r"connected peer=127\.0\.0\.2:%d tls=encrypt" % f.mx_port, log), log[-3000:]


def setup():
    return DaneFixture()


def teardown_fixture(f):
    f.close()


if __name__ == "__main__":
    missing = [p for p in (NSD, shutil.which("ldns-signzone"), shutil.which("ldns-keygen")) if not p or
               not os.path.exists(p)]
    if missing or not shutil.which("ldns-signzone"):
        print("not ok nsd or ldnsutils missing (scripts/deps.sh)")
        sys.exit(1)
    suite.run(setup, teardown_fixture)
