"""Prometheus metrics (GET /metrics) and the Apple configuration profile
(GET /apple.mobileconfig) of issue 12.  The metrics are scraped with curl
over HTTPS from loopback and parsed with prometheus_client's own parser
(Debian's python3-prometheus-client); the counters must move with the
traffic this test makes (IMAP logins that pass and fail, a message on
port 25, a submission queued for a remote host and deferred, TLS
handshakes that pass and fail).  Access: a peer outside [http]
metrics_allow needs the bearer token (401 without it), or gets 403 when
no token is set.  The profile is parsed with plistlib and checked field
by field against the ports this server listens on."""

import imaplib
import plistlib
import smtplib
import socket
import subprocess
import time
import uuid

from prometheus_client.parser import text_string_to_metric_families

from harness import PASSWORD, Raw, Server, Suite, certificate, client_tls, stop_and_check

suite = Suite()
HOST = "mail.example.test"
ADDR = "alice@example.test"
PROFILE = "/apple.mobileconfig"


def curl(srv, url, *args):
    """(status, headers text, body bytes) of a GET with HOST on 127.0.0.1."""
    resolve = []
    for s in ("http", "https"):
        if s in srv.ports:
            resolve += ["--resolve", "%s:%d:127.0.0.1" % (HOST, srv.port(s))]
    r = subprocess.run(["curl", "-sS", "--max-time", "20", "--cacert", certificate()[0], "-D", "-"] + resolve +
                       list(args) + [url], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head.decode(), body


def https(srv, path):
    return "https://%s:%d%s" % (HOST, srv.port("https"), path)


def http(srv, path):
    return "http://%s:%d%s" % (HOST, srv.port("http"), path)


def scrape(srv, *args):
    """{(sample name, frozenset of labels): value} and {family: {types}}.
    A family name may carry two types: the parser strips _total from a
    counter, so the counter tern_connections_total and the gauge
    tern_connections both land in "tern_connections"."""
    status, head, body = curl(srv, https(srv, "/metrics"), *args)
    assert status == 200, (status, body)
    assert "content-type: text/plain; version=0.0.4" in head.lower(), head
    text = body.decode()
    samples, types = {}, {}
    for fam in text_string_to_metric_families(text):
        types.setdefault(fam.name, set()).add(fam.type)
        for s in fam.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    # every family has its HELP and TYPE lines (the parser accepts less);
    # a counter's name keeps _total there, as prometheus_client writes it
    for name, typs in types.items():
        for typ in typs:
            full = name + "_total" if typ == "counter" else name
            assert "# HELP %s " % full in text and "# TYPE %s %s\n" % (full, typ) in text, name
    return samples, types


def val(samples, name, **labels):
    return samples[(name, frozenset(labels.items()))]


def setup():
    srv = Server()
    srv.add_user(ADDR)
    return srv.start()


def imap_login(srv, password):
    ctx = client_tls()
    m = imaplib.IMAP4_SSL("localhost", srv.port("imaps"), ssl_context=ctx, timeout=10)
    try:
        m.login(ADDR, password)
        m.logout()
        return True
    except imaplib.IMAP4.error:
        return False
    finally:
        try:
            m.shutdown()
        except OSError:
            pass


@suite.case
def families_and_types(srv):
    samples, types = scrape(srv)
    want = {"tern_connections": {"gauge", "counter"}, "tern_logins": "counter",
            "tern_smtp_messages": "counter", "tern_queue_messages": "gauge", "tern_delivery": "counter",
            "tern_queue_oldest_age_seconds": "gauge", "tern_tls_handshakes": "counter",
            "tern_penalty_blocks": "counter", "tern_process_resident_memory_bytes": "gauge",
            "tern_store_commit_seconds": "histogram", "tern_commands": "counter"}
    for name, typ in want.items():
        assert types.get(name) == (typ if isinstance(typ, set) else {typ}), (name, types.get(name))
    # counters carry _total in the exposition (the parser strips it from the family)
    assert val(samples, "tern_logins_total", service="imap", result="ok") == 0
    for svc in ("imap", "imaps", "smtp", "submission", "submissions", "pop3", "pop3s", "http", "https"):
        val(samples, "tern_connections", service=svc)
        val(samples, "tern_connections_total", service=svc)
    # this scrape's own connection is open on https
    assert val(samples, "tern_connections", service="https") >= 1
    assert val(samples, "tern_process_resident_memory_bytes") > 1 << 20
    assert val(samples, "tern_queue_messages") == 0
    assert val(samples, "tern_queue_oldest_age_seconds") == 0
    assert val(samples, "tern_penalty_blocks_total") == 0


@suite.case
def counters_move_with_traffic(srv):
    before, _ = scrape(srv)
    assert imap_login(srv, PASSWORD)
    assert not imap_login(srv, "wrong password")
    # a message on port 25 for a local user
    with smtplib.SMTP("127.0.0.1", srv.port("smtp"), timeout=20) as s:
        s.sendmail("someone@remote.example", [ADDR], "Subject: metrics\r\n\r\nhello\r\n")
    # a message refused after its data: a mail loop (too many Received)
    with smtplib.SMTP("127.0.0.1", srv.port("smtp"), timeout=20) as s:
        loop = "Received: from x by y; Mon, 7 Dec 2026 00:00:00 +0000\r\n" * 101
        try:
            s.sendmail("someone@remote.example", [ADDR], loop + "Subject: loop\r\n\r\nhi\r\n")
            raise AssertionError("a looping message was accepted")
        except smtplib.SMTPDataError as e:
            assert e.smtp_code == 554, e
    # one queued for a remote host over submissions: the relay
    # (127.0.0.1:9) refuses, so it is deferred
    with smtplib.SMTP_SSL("localhost", srv.port("submissions"), context=client_tls(), timeout=20) as s:
        s.login(ADDR, PASSWORD)
        s.sendmail(ADDR, ["bob@remote.example"], "From: %s\r\nSubject: out\r\n\r\nhi\r\n" % ADDR)
    # a TLS handshake that fails: plain text on the implicit-TLS port
    raw = socket.create_connection(("127.0.0.1", srv.port("imaps")), timeout=10)
    raw.sendall(b"a LOGIN x y\r\n" * 4)
    raw.settimeout(10)
    try:
        while raw.recv(4096):
            pass
    except OSError:
        pass
    raw.close()

    deadline = time.time() + 30
    while True:
        after, _ = scrape(srv)
        if val(after, "tern_delivery_total", result="deferred") >= 1 or time.time() > deadline:
            break
        time.sleep(0.3)

    def delta(name, **labels):
        return val(after, name, **labels) - val(before, name, **labels)

    assert delta("tern_logins_total", service="imap", result="ok") == 1
    assert delta("tern_logins_total", service="imap", result="fail") == 1
    assert delta("tern_logins_total", service="submission", result="ok") == 1
    assert delta("tern_smtp_messages_total", service="smtp", result="accepted") == 1
    assert delta("tern_smtp_messages_total", service="submission", result="accepted") == 1
    assert delta("tern_smtp_messages_total", service="smtp", result="rejected") == 1
    assert delta("tern_smtp_messages_total", service="submission", result="rejected") == 0
    assert delta("tern_connections_total", service="imaps") == 3
    assert delta("tern_connections_total", service="smtp") == 2
    assert delta("tern_connections_total", service="submissions") == 1
    assert delta("tern_connections_total", service="https") >= 1
    # 2 imaps + 1 submissions + the scrapes over https
    assert delta("tern_tls_handshakes_total", result="ok") >= 4
    assert delta("tern_tls_handshakes_total", result="fail") == 1
    assert delta("tern_delivery_total", result="deferred") == 1
    assert delta("tern_delivery_total", result="sent") == 0
    assert val(after, "tern_queue_messages") == 1
    assert 0 <= val(after, "tern_queue_oldest_age_seconds") < 120
    # the local delivery's COMMIT (and the submission's, if it stored a copy)
    assert delta("tern_store_commit_seconds_count") >= 1
    assert delta("tern_store_commit_seconds_bucket", le="+Inf") == delta("tern_store_commit_seconds_count")
    assert val(after, "tern_store_commit_seconds_sum") > 0
    # nothing from those connections stays open (the scrape's own may)
    for svc in ("imaps", "smtp", "submissions"):
        for _ in range(50):
            now, _ = scrape(srv)
            if val(now, "tern_connections", service=svc) == 0:
                break
            time.sleep(0.1)
        assert val(now, "tern_connections", service=svc) == 0, svc


@suite.case
def commands_per_protocol(srv):
    """Each command a session runs counts once for its protocol; a verb
    the server does not know, or one refused in this state, does not."""
    before, _ = scrape(srv)
    smtp = Raw(srv.port("smtp"))
    assert smtp.reply()[0].startswith("220")
    for line, code in (("EHLO client.example", "250"), ("NOOP", "250"), ("XYZZY", "500"), ("QUIT", "221")):
        smtp.send(line + "\r\n")
        assert smtp.reply()[-1].startswith(code), line
    smtp.close()
    pop = Raw(srv.port("pop3"))
    assert pop.line().startswith("+OK")
    for line, ok in (("CAPA", True), ("STAT", False), ("QUIT", True)):
        pop.send(line + "\r\n")
        first = pop.line()
        assert first.startswith("+OK" if ok else "-ERR"), (line, first)
        if line == "CAPA":
            while pop.line() != ".":
                pass
    pop.close()
    imap = Raw(srv.port("imap"))
    assert imap.line().startswith("* OK")
    for tag, line in (("a", "CAPABILITY"), ("b", "NOOP"), ("c", "FROB"), ("d", "LOGOUT")):
        imap.send("%s %s\r\n" % (tag, line))
        while True:
            got = imap.line()
            if got.startswith(tag + " "):
                break
        assert got.startswith(tag + (" BAD" if line == "FROB" else " OK")), got
    imap.close()
    after, _ = scrape(srv)

    def delta(protocol):
        return val(after, "tern_commands_total", protocol=protocol) - val(before, "tern_commands_total",
                                                                           protocol=protocol)

    assert delta("smtp") == 3, delta("smtp")       # EHLO, NOOP, QUIT
    assert delta("pop3") == 2, delta("pop3")       # CAPA, QUIT (STAT before login is refused)
    assert delta("imap") == 3, delta("imap")       # CAPABILITY, NOOP, LOGOUT
    assert delta("http") == 1, delta("http")       # the second scrape itself


@suite.case
def plain_http_redirects_metrics_by_default(srv):
    status, head, _ = curl(srv, http(srv, "/metrics"))
    assert status == 301 and "/metrics" in head, head


@suite.case
def token_required_outside_metrics_allow(_):
    srv = Server(extra="[http]\nmetrics_allow = 192.0.2.0/24, 2001:db8::/32\nmetrics_token = s3cret-Token\n")
    srv.start()
    try:
        status, head, _ = curl(srv, https(srv, "/metrics"))
        assert status == 401, status
        assert head.startswith("HTTP/1.1 401 Unauthorized\r\n"), head
        assert 'www-authenticate: bearer realm="tern metrics"' in head.lower(), head
        status, _, _ = curl(srv, https(srv, "/metrics"), "-H", "Authorization: Bearer wrong")
        assert status == 401, status
        status, _, _ = curl(srv, https(srv, "/metrics"), "-H", "Authorization: Bearer s3cret-Toke")
        assert status == 401, status
        samples, _ = scrape(srv, "-H", "Authorization: Bearer s3cret-Token")
        assert val(samples, "tern_connections", service="https") >= 1
        # the scheme is case-insensitive (RFC 9110 11.1)
        scrape(srv, "-H", "Authorization: bearer s3cret-Token")
    finally:
        stop_and_check(srv)


@suite.case
def forbidden_without_token_and_metrics_http(_):
    srv = Server(extra="[http]\nmetrics_allow = 192.0.2.1\nmetrics_http = yes\n")
    srv.start()
    try:
        status, head, _ = curl(srv, https(srv, "/metrics"))
        assert status == 403, status
        assert head.startswith("HTTP/1.1 403 Forbidden\r\n"), head
        status, _, _ = curl(srv, https(srv, "/metrics"), "-H", "Authorization: Bearer anything")
        assert status == 403, status
        # metrics_http: plain http answers itself instead of redirecting
        status, _, _ = curl(srv, http(srv, "/metrics"))
        assert status == 403, status
    finally:
        stop_and_check(srv)


@suite.case
def metrics_http_from_loopback(_):
    srv = Server(extra="[http]\nmetrics_http = yes\n")
    srv.start()
    try:
        status, head, body = curl(srv, http(srv, "/metrics"))
        assert status == 200, status
        names = {f.name for f in text_string_to_metric_families(body.decode())}
        assert "tern_connections" in names, names
    finally:
        stop_and_check(srv)


def check_profile(srv, body, address, imap, smtp):
    p = plistlib.loads(body)
    assert p["PayloadType"] == "Configuration"
    assert p["PayloadVersion"] == 1
    want = uuid.uuid5(uuid.NAMESPACE_URL, "https://%s%s?emailaddress=%s" % (HOST, PROFILE, address.lower()))
    assert uuid.UUID(p["PayloadUUID"]) == want, (p["PayloadUUID"], want)
    assert p["PayloadIdentifier"] == "test.example.mail.mobileconfig.%s" % p["PayloadUUID"], p["PayloadIdentifier"]
    assert p["PayloadRemovalDisallowed"] is False
    assert len(p["PayloadContent"]) == 1
    m = p["PayloadContent"][0]
    assert m["PayloadType"] == "com.apple.mail.managed"
    assert m["PayloadVersion"] == 1
    mail_uuid = uuid.uuid5(uuid.NAMESPACE_URL, "https://%s%s?emailaddress=%s#mail" % (HOST, PROFILE, address.lower()))
    assert uuid.UUID(m["PayloadUUID"]) == mail_uuid
    assert m["PayloadIdentifier"] == p["PayloadIdentifier"] + ".mail"
    assert m["EmailAccountType"] == "EmailTypeIMAP"
    assert m["EmailAddress"] == address
    for side, port in (("Incoming", imap), ("Outgoing", smtp)):
        assert m[side + "MailServerHostName"] == HOST
        assert m[side + "MailServerPortNumber"] == port, (side, m[side + "MailServerPortNumber"], port)
        assert m[side + "MailServerUseSSL"] is True
        assert m[side + "MailServerUsername"] == address
        assert m[side + "MailServerAuthentication"] == "EmailAuthPassword"
    assert m["OutgoingPasswordSameAsIncomingPassword"] is True
    return p


@suite.case
def mobileconfig_profile(srv):
    status, head, body = curl(srv, https(srv, PROFILE + "?emailaddress=" + ADDR))
    assert status == 200, (status, body)
    assert "content-type: application/x-apple-aspen-config\r\n" in head.lower(), head
    assert "content-disposition: attachment" in head.lower(), head
    p1 = check_profile(srv, body, ADDR, srv.port("imaps"), srv.port("submissions"))
    # stable: the same address gets the same UUIDs; another address others
    _, _, body = curl(srv, https(srv, PROFILE + "?emailaddress=alice%40example.test"))
    assert plistlib.loads(body)["PayloadUUID"] == p1["PayloadUUID"]
    _, _, body = curl(srv, https(srv, PROFILE + "?emailaddress=bob%40example.test"))
    p2 = check_profile(srv, body, "bob@example.test", srv.port("imaps"), srv.port("submissions"))
    assert p2["PayloadUUID"] != p1["PayloadUUID"]
    # escaped: an address with XML metacharacters stays one string
    odd = "o'b&<x>@example.test"
    _, _, body = curl(srv, https(srv, PROFILE + "?emailaddress=o%27b%26%3Cx%3E%40example.test"))
    check_profile(srv, body, odd, srv.port("imaps"), srv.port("submissions"))
    for q in ("", "?emailaddress=", "?emailaddress=nobody"):
        status, _, _ = curl(srv, https(srv, PROFILE + q))
        assert status == 400, (q, status)
    status, _, _ = curl(srv, http(srv, PROFILE + "?emailaddress=" + ADDR))
    assert status == 301, status


@suite.case
def mobileconfig_starttls_ports(_):
    srv = Server()
    ports = dict(srv.ports)
    for s in ("imaps", "submissions"):
        del srv.ports[s]
    srv.write_config()
    srv.start()
    srv.ports = ports
    try:
        status, _, body = curl(srv, https(srv, PROFILE + "?emailaddress=" + ADDR))
        assert status == 200, status
        check_profile(srv, body, ADDR, srv.port("imap"), srv.port("submission"))
    finally:
        stop_and_check(srv)


suite.run(setup, stop_and_check)
