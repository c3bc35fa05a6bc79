"""End-to-end tests of MTA-STS (RFC 8461) in outbound delivery.  The
sending Tern ("A") asks the loopback DNS server (tests/e2e/dnsserver.py)
for _mta-sts.example.net and for mta-sts.example.net's address, and
fetches the policy over HTTPS from a Python server on 127.0.0.1
([delivery] mta_sts_port) whose certificate a small test CA signed for
mta-sts.example.net.  The destination is a second Tern ("B") on
127.0.0.2 with the harness certificate (mail.example.test).  A's
[delivery] ca_file holds both the test CA and the harness certificate."""

import http.server
import os
import re
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Suite, certificate, free_ports  # noqa: E402
from test_dane import ca_and_leaf  # noqa: E402
from test_delivery import Fixture, inbox, queue_list, submit, wait  # noqa: E402

suite = Suite()

DOMAIN = "example.net"
POLICY_HOST = "mta-sts." + DOMAIN


def policy(mode, *mx, max_age=86400):
    return ("version: STSv1\r\nmode: %s\r\n%smax_age: %d\r\n"
            % (mode, "".join("mx: %s\r\n" % m for m in mx), max_age)).encode()


class PolicyServer:
    """HTTPS on 127.0.0.1:port serving /.well-known/mta-sts.txt as text/plain."""

    def __init__(self, chain, key):
        self.body = b""
        self.requests = []
        self.port = free_ports(1)[0]
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(chain, key)
        self.httpd = None

    def start(self):
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                owner.requests.append((self.path, self.headers.get("Host")))
                if self.path != "/.well-known/mta-sts.txt":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(owner.body)))
                self.end_headers()
                self.wfile.write(owner.body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.httpd.socket = self.ctx.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None


class StsFixture(Fixture):
    def __init__(self):
        super().__init__()
        ca, chain, key = ca_and_leaf(self.tmp, [POLICY_HOST])
        self.ca_file = os.path.join(self.tmp, "trusted.pem")
        with open(self.ca_file, "w") as f:
            f.write(open(ca).read() + open(certificate()[0]).read())
        self.web = PolicyServer(chain, key)
        self.web.start()

    def publish(self, mx_host, txt_id="1", body=None):
        """example.net's MX is mx_host (on 127.0.0.2, B); _mta-sts says
        id=txt_id (None: no record); the policy server serves body."""
        zone = {
            DOMAIN: {"MX": [[10, mx_host]]},
            mx_host: {"A": ["127.0.0.2"]},
            POLICY_HOST: {"A": ["127.0.0.1"]},
        }
        if txt_id is not None:
            zone["_mta-sts." + DOMAIN] = {"TXT": ["v=STSv1; id=%s;" % txt_id]}
        self.dns.set(zone)
        if body is not None:
            self.web.body = body

    def sts_sender(self):
        return self.sender(extra="mta_sts_port = %d\nca_file = %s\n" % (self.web.port, self.ca_file))

    def close(self):
        self.web.stop()
        super().close()


def log_of(srv):
    return open(srv.log_path, encoding="utf-8", errors="replace").read()


def deferred(a):
    return wait("deferral", lambda: (lambda o: "attempts=1" in o and o)(queue_list(a)))


def case(fn):
    def run(f):
        try:
            fn(f)
        except AssertionError as e:
            # the sender's last lines say why (a fetch, a handshake)
            tails = "".join("\n--- %s\n%s" % (s.log_path, s.tail(30)) for s in f.servers.list)
            raise AssertionError("%s%s" % (e, tails)) from None
    run.__name__ = fn.__name__
    suite.case(run)
    return fn


@case
def enforce_matching_mx_verified_tls(f):
    """(a) enforce, the MX host is in the policy and its certificate is
    valid for it: delivered over TLS with the certificate verified."""
    f.publish("mail.example.test", body=policy("enforce", "mail.example.test"))
    b = f.destination()
    a = f.sts_sender()
    qid = submit(a, ["friend@" + DOMAIN], subject="under MTA-STS")
    got = wait("delivery to B", lambda: inbox(b, "friend@" + DOMAIN))
    assert got[0]["Subject"] == "under MTA-STS"
    log = log_of(a)
    assert "queue dest=%s mta-sts fetched id=1 mode=enforce" % DOMAIN in log, log[-3000:]
    assert re.search(r"queue dest=%s mta-sts=enforce id=1 source=fetched max_age=86400 mx=1" % DOMAIN, log), \
        log[-3000:]
    assert re.search(r"mta \S+ connected peer=127\.0\.0\.2:%d tls=required" % f.mx_port, log), log[-3000:]
    assert re.search(r"queue %s to=<friend@%s> relay=mail.example.test status=sent" % (qid, DOMAIN), log)
    assert "TLS" in str(got[0].get_all("Received")), got[0].get_all("Received")
    # the fetch: the right path and Host, through CURLOPT_RESOLVE
    assert f.web.requests[0][0] == "/.well-known/mta-sts.txt", f.web.requests
    assert f.web.requests[0][1].startswith(POLICY_HOST), f.web.requests
    # cached on disk with its id and fetch time
    cached = open(os.path.join(a.data, "mta-sts", DOMAIN), newline="").read()
    assert re.match(r"tern-mta-sts 1\nfetched: \d+\nid: 1\n\nversion: STSv1\r\nmode: enforce\r\n", cached), cached


@case
def enforce_mx_not_in_policy_defers(f):
    """(b) enforce, the MX host is not one the policy lists: nothing is
    sent; the message waits with an MTA-STS error."""
    f.publish("mail.example.test", body=policy("enforce", "*.other.example"))
    b = f.destination()
    a = f.sts_sender()
    qid = submit(a, ["friend@" + DOMAIN], subject="not to that MX")
    out = deferred(a)
    assert qid in out and re.search(r"pending: .*MTA-STS policy \(enforce\): no MX host", out), out
    log = log_of(a)
    assert "host=mail.example.test mta-sts=enforce: not in the policy's mx, not used" in log, log[-3000:]
    assert "connected peer=127.0.0.2" not in log, "a session to a host outside the policy"
    assert inbox(b, "friend@" + DOMAIN) == []


@case
def enforce_bad_certificate_defers_without_plain_text(f):
    """(c) enforce, the MX host is in the policy but B's certificate is
    not for it: the handshake fails, the message waits, and it is never
    retried in plain text (which opportunistic TLS would do)."""
    f.publish("mx2." + DOMAIN, body=policy("enforce", "*." + DOMAIN))
    b = f.destination()
    a = f.sts_sender()
    qid = submit(a, ["friend@" + DOMAIN], subject="not to an impostor")
    out = deferred(a)
    assert qid in out and re.search(r"pending: .*MTA-STS policy \(enforce\) of example\.net: .*", out), out
    log = log_of(a)
    assert re.search(r"connected peer=127\.0\.0\.2:%d tls=required" % f.mx_port, log), log[-3000:]
    assert re.search(r"tls=required failed: .*(hostname mismatch|certificate)", log, re.I), log[-3000:]
    assert not re.search(r"connected peer=127\.0\.0\.2:%d tls=(none|opportunistic)" % f.mx_port, log), \
        "downgraded"
    time.sleep(1)
    assert inbox(b, "friend@" + DOMAIN) == []
    assert "status=sent" not in log_of(a)


@case
def testing_mode_reports_and_delivers(f):
    """(d) testing, the same bad certificate: a line says the policy would
    have failed, and the message goes as without a policy."""
    f.publish("mx2." + DOMAIN, body=policy("testing", "*." + DOMAIN))
    b = f.destination()
    a = f.sts_sender()
    submit(a, ["friend@" + DOMAIN], subject="testing only")
    got = wait("delivery to B", lambda: inbox(b, "friend@" + DOMAIN))
    assert got[0]["Subject"] == "testing only"
    log = log_of(a)
    assert "mta-sts=testing id=1 source=fetched" in log, log[-3000:]
    assert re.search(r"queue dest=%s host=mx2\.%s mta-sts=testing: the policy would have failed: " %
                     (DOMAIN, re.escape(DOMAIN)), log), log[-3000:]
    assert re.search(r"connected peer=127\.0\.0\.2:%d tls=opportunistic" % f.mx_port, log), log[-3000:]


@case
def cached_policy_outlives_the_policy_server(f):
    """(e) after a first fetch, the policy server goes away and the TXT id
    changes: the fetch fails, the cached policy stays in force (RFC 8461
    5.1), so an MX outside it is refused.  After a restart, the policy
    comes back from data_dir/mta-sts."""
    f.publish("mail.example.test", body=policy("enforce", "mail.example.test"))
    b = f.destination()
    a = f.sts_sender()
    submit(a, ["friend@" + DOMAIN], subject="first")
    wait("delivery to B", lambda: inbox(b, "friend@" + DOMAIN))
    wait("queue empty", lambda: "queue is empty" in queue_list(a))
    f.web.stop()
    f.publish("mx2." + DOMAIN, txt_id="2")
    qid = submit(a, ["friend@" + DOMAIN], subject="second")
    out = deferred(a)
    assert qid in out and "MTA-STS policy (enforce): no MX host" in out, out
    log = log_of(a)
    assert re.search(r"queue dest=%s mta-sts fetch failed: .*; the cached policy stays in force" % DOMAIN, log), \
        log[-3000:]
    assert "mta-sts=enforce id=1 source=cache" in log, log[-3000:]
    assert len(inbox(b, "friend@" + DOMAIN)) == 1
    # a restart: the policy is read back from disk (same id: no fetch)
    f.publish("mx2." + DOMAIN, txt_id="1")
    a.stop()
    a.start()
    a.cli("queue", "flush")
    wait("second deferral", lambda: "mta-sts=enforce id=1 source=disk" in log_of(a))
    wait("deferred again", lambda: log_of(a).count("MTA-STS policy (enforce): no MX host") >= 2)
    assert len(inbox(b, "friend@" + DOMAIN)) == 1


@case
def no_record_is_opportunistic(f):
    """(f) no _mta-sts record: delivered as before, opportunistic TLS, no
    fetch."""
    f.publish("mx2." + DOMAIN, txt_id=None, body=policy("enforce", "nothing.example"))
    b = f.destination()
    a = f.sts_sender()
    submit(a, ["friend@" + DOMAIN], subject="no policy")
    got = wait("delivery to B", lambda: inbox(b, "friend@" + DOMAIN))
    assert got[0]["Subject"] == "no policy"
    log = log_of(a)
    assert "mta-sts=" not in log, log[-3000:]
    assert re.search(r"connected peer=127\.0\.0\.2:%d tls=opportunistic" % f.mx_port, log), log[-3000:]
    assert f.web.requests == [], f.web.requests


def setup():
    return StsFixture()


def teardown_fixture(f):
    f.close()


if __name__ == "__main__":
    suite.run(setup, teardown_fixture)
