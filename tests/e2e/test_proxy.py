"""End-to-end tests of the proxy role (issue 11): one Tern with
[server] role = proxy in front of two Terns with role = backend, on one
directory (the back ends' directory.db is a symbolic link to the proxy's,
so the three share one SQLite file; TERN_TEST_DIRECTORY=postgresql puts
all three on one PostgreSQL database instead).  Back ends listen on
127.0.0.2 and 127.0.0.3 at the same ports, as real back ends on their own
hosts would; the proxy reaches them from 127.0.0.1, the one trusted
address.

Real clients: imaplib and poplib for logins, raw sockets for IDLE, a slow
FETCH and the back end's own view of a proxied login.  Expected answers
come from RFC 9051 (the OK's CAPABILITY code, 6.2.2; IDLE, 6.3.13),
RFC 5530 (UNAVAILABLE, AUTHENTICATIONFAILED) and RFC 4616 (SASL PLAIN
with an authorization identity)."""

import base64
import imaplib
import os
import poplib
import re
import smtplib
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import DIRECTORY, PASSWORD, Server, Suite, free_ports, shared_pg  # noqa: E402

# ASan keeps freed memory in quarantine (256 MB by default): the relay's
# buffers come and go, and RSS would measure the quarantine, not what the
# proxy holds.  As test_imap_fetch_memory.py does.
os.environ["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=4"

suite = Suite()
SECRET = "s3cret-shared-by-the-tiers-0123456789"
IDENTITY = "tern-proxy"


def backend_ports():
    """Ports free on 127.0.0.2 and 127.0.0.3 alike (the proxy reaches
    every back end at the same port)."""
    for _ in range(20):
        ports = free_ports(3)
        try:
            for host in ("127.0.0.2", "127.0.0.3"):
                for p in ports:
                    s = socket.socket()
                    s.bind((host, p))
                    s.close()
            return ports
        except OSError:
            continue
    raise AssertionError("no common free ports")


def make_cert(directory, name, san):
    cert, key = os.path.join(directory, name + ".pem"), os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=" + name, "-addext", "subjectAltName=" + san,
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


class Tiers:
    def __init__(self, hop_tls=None):
        """hop_tls: None (a plain hop), or "starttls": each back end gets
        a certificate of its own, be1's valid for 127.0.0.2 and be2's for
        127.0.0.2 too (so wrong for 127.0.0.3), and the proxy trusts both."""
        self.tmp = tempfile.mkdtemp(prefix="tern-proxy-")
        self.secret_file = os.path.join(self.tmp, "secret")
        with open(self.secret_file, "w") as f:
            f.write(SECRET + "\n")
        os.chmod(self.secret_file, 0o600)
        imap_port, pop3_port, sub_port = backend_ports()
        self.imap_port, self.pop3_port, self.sub_port = imap_port, pop3_port, sub_port
        dsn = shared_pg().create_database() if DIRECTORY == "postgresql" else ""
        proxy_extra = ("[server]\nrole = proxy\n[proxy]\nimap_port = %d\npop3_port = %d\nsubmission_port = %d\n"
                       "secret_file = %s\n" % (imap_port, pop3_port, sub_port, self.secret_file))
        certs = []
        if hop_tls:
            certs = [make_cert(self.tmp, "be1", "IP:127.0.0.2"), make_cert(self.tmp, "be2", "IP:127.0.0.2")]
            ca = os.path.join(self.tmp, "ca.pem")
            with open(ca, "w") as out:
                for cert, _ in certs:
                    with open(cert) as f:
                        out.write(f.read())
            proxy_extra += "tls = %s\nca_file = %s\n" % (hop_tls, ca)
        backend_extra = ("[server]\nrole = backend\n[proxy]\nsecret_file = %s\n"
                         "[backend]\ntrusted_proxies = 127.0.0.1/32\n" % self.secret_file)
        self.proxy = Server(extra=proxy_extra, dsn=dsn)
        self.be = []
        for i, host in enumerate(("127.0.0.2", "127.0.0.3")):
            extra = backend_extra
            if certs:
                extra += "[tls]\ncert = %s\nkey = %s\n" % certs[i]
            # implicit TLS: the back ends' imaps, pop3s and submissions
            # stand at the ports the proxy connects to
            names = ("imaps", "pop3s", "submissions") if hop_tls == "implicit" else ("imap", "pop3", "submission")
            srv = Server(extra=extra, dsn=dsn, add_domains=False, tls=not certs,
                         listen={names[0]: (host, imap_port), names[1]: (host, pop3_port),
                                 names[2]: (host, sub_port)})
            if not dsn:
                os.makedirs(srv.data, exist_ok=True)
                os.symlink(os.path.join(self.proxy.data, "directory.db"), os.path.join(srv.data, "directory.db"))
            self.be.append(srv)
        p = self.proxy
        p.cli("backend", "add", "be1", "127.0.0.2")
        p.cli("backend", "add", "be2", "127.0.0.3")
        p.cli("backend", "add", "gone", "127.0.0.4")     # nothing listens there
        for user, be in (("alice@example.test", "be1"), ("bob@example.test", "be2"),
                         ("dora@example.test", "gone"), ("local@example.test", None)):
            args = ["user", "add", user, "--password-stdin"] + (["--backend", be] if be else [])
            p.cli(*args, input=PASSWORD + "\n")
        p.start()
        for srv in self.be:
            srv.start()

    def stop(self):
        statuses = [srv.stop() for srv in [self.proxy] + self.be]
        logs = [srv.tail(40) for srv in [self.proxy] + self.be]
        for srv in [self.proxy] + self.be:
            srv.cleanup()
        if any(s not in (0, None) for s in statuses):     # None: a case stopped it already
            raise AssertionError("exit statuses %s:\n%s" % (statuses, "\n".join(logs)))

    def log(self, srv):
        with open(srv.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


def deliver(srv, rcpt, subject, body="hello\r\n"):
    s = smtplib.SMTP("127.0.0.1", srv.port("smtp"), timeout=30)
    s.sendmail("x@example.net", [rcpt], ("Subject: %s\r\nFrom: x@example.net\r\n\r\n%s" % (subject, body)).encode())
    s.quit()


def imap_proxy(t, source=None):
    return imaplib.IMAP4("127.0.0.1", t.proxy.port("imap"), timeout=30) if source is None else \
        _imap_from(source, t.proxy.port("imap"))


def _imap_from(source, port):
    class From(imaplib.IMAP4):
        def _create_socket(self, timeout):
            return socket.create_connection((self.host, self.port), timeout, source_address=(source, 0))
    return From("127.0.0.1", port, timeout=30)


class Raw:
    def __init__(self, host, port, source=None, timeout=20):
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.buf = b""

    def send(self, s):
        self.sock.sendall(s.encode() if isinstance(s, str) else s)

    def line(self):
        while b"\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError(self.buf)
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def until(self, tag):
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if line.startswith(tag + " "):
                return lines

    def close(self):
        self.sock.close()


def plain(authz, authc, password):
    return base64.b64encode(("%s\0%s\0%s" % (authz, authc, password)).encode()).decode()


def setup():
    return Tiers()


def teardown(t):
    t.stop()


@suite.case
def imap_login_lands_on_the_users_back_end(t):
    deliver(t.be[0], "alice@example.test", "for alice on be1")
    deliver(t.be[1], "bob@example.test", "for bob on be2")
    for user, subject in (("alice@example.test", "for alice on be1"), ("bob@example.test", "for bob on be2")):
        c = imap_proxy(t)
        # before login: the proxy's own list (STARTTLS offered, no NAMESPACE)
        assert "NAMESPACE" not in c.capabilities, c.capabilities
        typ, data = c.login(user, PASSWORD)
        assert typ == "OK", data
        typ, data = c.select("INBOX")
        assert typ == "OK" and data == [b"1"], (user, data)
        typ, data = c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert subject.encode() in data[0][1], data
        c.logout()
    assert "backend=be1" in t.log(t.proxy) and "backend=be2" in t.log(t.proxy)


@suite.case
def imap_ok_carries_the_back_ends_capabilities(t):
    r = Raw("127.0.0.1", t.proxy.port("imap"))
    greeting = r.line()
    assert greeting.startswith("* OK [CAPABILITY ") and "NAMESPACE" not in greeting, greeting
    r.send("a LOGIN alice@example.test \"%s\"\r\n" % PASSWORD)
    ok = r.until("a")[-1]
    m = re.match(r"a OK \[CAPABILITY ([^\]]*)\] ", ok)
    assert m and {"NAMESPACE", "IDLE", "COMPRESS=DEFLATE"} <= set(m.group(1).split()), ok
    # the back end's post-login list, not the proxy's pre-login one
    assert "AUTH=PLAIN" not in ok and "STARTTLS" not in ok, ok
    r.send("b NAMESPACE\r\n")
    assert r.until("b")[-1].startswith("b OK"), "NAMESPACE answered by the back end"
    r.send("c LOGOUT\r\n")
    assert r.until("c")[-1].startswith("c OK")
    r.close()


@suite.case
def imap_authenticate_plain_through_the_proxy(t):
    r = Raw("127.0.0.1", t.proxy.port("imap"))
    r.line()
    r.send("a AUTHENTICATE PLAIN %s\r\n" % plain("", "bob@example.test", PASSWORD))
    assert r.until("a")[-1].startswith("a OK [CAPABILITY "), "AUTHENTICATE through the proxy"
    r.send("b SELECT INBOX\r\n")
    assert r.until("b")[-1].startswith("b OK")
    r.close()


@suite.case
def imap_wrong_password_is_counted_at_the_proxy(t):
    for _ in range(2):
        c = imap_proxy(t)
        try:
            c.login("alice@example.test", "wrong")
            raise AssertionError("a wrong password logged in")
        except imaplib.IMAP4.error as e:
            assert "AUTHENTICATIONFAILED" in str(e), e
        c.logout()
    assert len(re.findall(r'login user="alice@example.test" .*result=failed', t.log(t.proxy))) == 2
    # the back end never saw those attempts
    assert "alice@example.test" not in t.log(t.be[0])


@suite.case
def imap_back_end_refuses_untrusted_or_wrong_secret(t):
    port = t.be[0].port("imap")
    # from an address outside trusted_proxies, with the right secret
    r = Raw("127.0.0.2", port, source="127.0.0.5")
    r.line()
    r.send("a AUTHENTICATE PLAIN %s\r\n" % plain("alice@example.test", IDENTITY, SECRET))
    assert r.until("a")[-1].startswith("a NO [AUTHENTICATIONFAILED]"), "untrusted proxy refused"
    r.close()
    # from the trusted address with a wrong secret
    r = Raw("127.0.0.2", port, source="127.0.0.1")
    r.line()
    r.send("a AUTHENTICATE PLAIN %s\r\n" % plain("alice@example.test", IDENTITY, SECRET + "x"))
    assert r.until("a")[-1].startswith("a NO [AUTHENTICATIONFAILED]"), "wrong secret refused"
    # and with the right one it is let in (the proxy's own way)
    r.send("b AUTHENTICATE PLAIN %s\r\n" % plain("alice@example.test", IDENTITY, SECRET))
    assert r.until("b")[-1].startswith("b OK"), "trusted proxy with the secret"
    r.close()
    log = t.log(t.be[0])
    assert "not in trusted_proxies" in log and "wrong secret" in log, log[-2000:]
    # a client's own PLAIN with an authzid for someone else stays refused
    r = Raw("127.0.0.2", port, source="127.0.0.1")
    r.line()
    r.send("a AUTHENTICATE PLAIN %s\r\n" % plain("alice@example.test", "bob@example.test", PASSWORD))
    assert r.until("a")[-1].startswith("a NO"), "authzid for another user"
    r.close()


@suite.case
def imap_back_end_logs_the_clients_address(t):
    c = imap_proxy(t, source="127.0.0.9")
    c.login("alice@example.test", PASSWORD)
    port = c.sock.getsockname()[1]
    c.logout()
    log = t.log(t.be[0])
    assert re.search(r'login user="alice@example.test" peer=127\.0\.0\.9 port=%d proxy=127\.0\.0\.1 .*result=ok'
                     % port, log), log[-2000:]
    # an untrusted peer's ID is not believed
    r = Raw("127.0.0.2", t.be[0].port("imap"), source="127.0.0.5")
    r.line()
    r.send('a ID ("x-originating-ip" "192.0.2.77")\r\n')
    r.until("a")
    r.send("b LOGIN alice@example.test \"%s\"\r\n" % PASSWORD)
    r.until("b")
    r.close()
    assert "192.0.2.77" not in t.log(t.be[0])


@suite.case
def imap_idle_is_pushed_through_the_proxy(t):
    deliver(t.be[0], "alice@example.test", "first")
    r = Raw("127.0.0.1", t.proxy.port("imap"))
    r.line()
    r.send("a LOGIN alice@example.test \"%s\"\r\n" % PASSWORD)
    r.until("a")
    r.send("b SELECT INBOX\r\n")
    assert "* 1 EXISTS" in r.until("b")
    r.send("c IDLE\r\n")
    assert r.line().startswith("+ "), "IDLE continuation"
    start = time.time()
    deliver(t.be[0], "alice@example.test", "second")
    line = r.line()
    assert line == "* 2 EXISTS", line
    assert time.time() - start < 10
    r.send("DONE\r\n")
    lines = r.until("c")
    assert lines[-1].startswith("c OK"), lines
    r.close()


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@suite.case
def imap_large_fetch_streams_with_bounded_memory(t):
    body = ("x" * 998 + "\r\n") * 30000                   # 30 MB
    deliver(t.be[0], "alice@example.test", "big", body)
    r = Raw("127.0.0.1", t.proxy.port("imap"))
    r.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    r.line()
    r.send("a LOGIN alice@example.test \"%s\"\r\n" % PASSWORD)
    r.until("a")
    r.send("b SELECT INBOX\r\n")
    r.until("b")
    pid = t.proxy.proc.pid
    before = rss_kib(pid)
    r.send("c FETCH 1 BODY[]\r\n")
    head = r.line()
    m = re.match(r"\* 1 FETCH \(BODY\[\] \{(\d+)\}$", head)
    assert m, head
    size = int(m.group(1))
    got = len(r.buf)
    r.buf = b""
    peak = before
    # a slow reader: the back end writes far faster than this
    while got < size:
        d = r.sock.recv(min(65536, size - got))
        assert d, "closed in the literal"
        got += len(d)
        if got % (2 * 1024 * 1024) < 65536:
            peak = max(peak, rss_kib(pid))
            time.sleep(0.05)
    r.buf = b""
    rest = r.until("c")
    assert rest[-1].startswith("c OK"), rest
    assert size > 30000000
    # the proxy held a bounded window of the 30 MB, not the message
    assert peak - before < 12 * 1024, (before, peak)
    r.close()


@suite.case
def imap_back_end_down_answers_unavailable_quickly(t):
    c = imap_proxy(t)
    start = time.time()
    try:
        c.login("dora@example.test", PASSWORD)
        raise AssertionError("logged in to a back end that is down")
    except imaplib.IMAP4.error as e:
        assert "[UNAVAILABLE]" in str(e), e
    assert time.time() - start < 6, time.time() - start
    # the session is still usable: the client may try again
    typ, _ = c.noop()
    assert typ == "OK"
    c.logout()
    assert re.search(r"proxy \S+ backend=gone host=127\.0\.0\.4 user=dora@example\.test unavailable", t.log(t.proxy))
    # a back end that stops: the next login says UNAVAILABLE too
    t.be[1].stop()
    c = imap_proxy(t)
    try:
        c.login("bob@example.test", PASSWORD)
        raise AssertionError("logged in to a stopped back end")
    except imaplib.IMAP4.error as e:
        assert "[UNAVAILABLE]" in str(e), e
    c.logout()
    t.be[1].start()
    c = imap_proxy(t)
    assert c.login("bob@example.test", PASSWORD)[0] == "OK", "back again"
    c.logout()


@suite.case
def imap_user_without_back_end_is_not_served_by_a_proxy(t):
    c = imap_proxy(t)
    try:
        c.login("local@example.test", PASSWORD)
        raise AssertionError("a proxy served a local user")
    except imaplib.IMAP4.error as e:
        assert "[UNAVAILABLE]" in str(e), e
    c.logout()
    assert not os.path.exists(os.path.join(t.proxy.data, "mail", "example.test", "local"))


@suite.case
def imap_compress_passes_through(t):
    import zlib
    deliver(t.be[0], "alice@example.test", "compressed")
    r = Raw("127.0.0.1", t.proxy.port("imap"))
    r.line()
    r.send("a LOGIN alice@example.test \"%s\"\r\n" % PASSWORD)
    r.until("a")
    r.send("b COMPRESS DEFLATE\r\n")
    assert r.until("b")[-1].startswith("b OK"), "COMPRESS answered by the back end"
    # RFC 4978: raw deflate both ways from here on
    out = zlib.compressobj(wbits=-15)
    inf = zlib.decompressobj(wbits=-15)
    r.send(out.compress(b"c SELECT INBOX\r\nd FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]\r\n") +
           out.flush(zlib.Z_SYNC_FLUSH))
    text = b""
    r.sock.settimeout(10)
    while b"\r\nd " not in text:
        d = r.sock.recv(65536)
        assert d, text
        text += inf.decompress(d)
    assert b"* 1 EXISTS" in text and b"Subject: compressed" in text, text
    r.close()


@suite.case
def imap_back_end_logout_ends_the_client(t):
    r = Raw("127.0.0.1", t.proxy.port("imap"))
    r.line()
    r.send("a LOGIN alice@example.test \"%s\"\r\n" % PASSWORD)
    r.until("a")
    r.send("b LOGOUT\r\n")
    lines = r.until("b")
    assert lines[0].startswith("* BYE") and lines[-1].startswith("b OK"), lines
    r.sock.settimeout(5)
    assert r.sock.recv(100) == b"", "closed after the back end's LOGOUT"
    r.close()


def pop3_from(t, source=None):
    class From(poplib.POP3):
        def _create_socket(self, timeout):
            return socket.create_connection((self.host, self.port), timeout,
                                            source_address=(source, 0) if source else None)
    return From("127.0.0.1", t.proxy.port("pop3"), timeout=30)


@suite.case
def pop3_login_lands_on_the_users_back_end(t):
    deliver(t.be[0], "alice@example.test", "pop for alice", "alice's body\r\n")
    deliver(t.be[1], "bob@example.test", "pop for bob", "bob's body\r\n")
    p = pop3_from(t, source="127.0.0.9")
    p.user("alice@example.test")
    assert p.pass_(PASSWORD).startswith(b"+OK")
    port = p.sock.getsockname()[1]
    assert p.stat()[0] == 1
    assert b"alice's body" in b"\r\n".join(p.retr(1)[1])
    p.quit()
    # AUTH PLAIN (RFC 5034) through the proxy, to the other back end
    r = Raw("127.0.0.1", t.proxy.port("pop3"))
    assert r.line().startswith("+OK")
    r.send("AUTH PLAIN %s\r\n" % plain("", "bob@example.test", PASSWORD))
    assert r.line().startswith("+OK"), "AUTH PLAIN through the proxy"
    r.send("RETR 1\r\n")
    lines = [r.line()]
    while lines[-1] != ".":
        lines.append(r.line())
    assert lines[0].startswith("+OK") and "bob's body" in lines, lines
    r.send("QUIT\r\n")
    assert r.line().startswith("+OK")
    r.close()
    log = t.log(t.be[0])
    assert re.search(r'pop3 \S+ login user="alice@example.test" peer=127\.0\.0\.9 port=%d proxy=127\.0\.0\.1 .*result=ok'
                     % port, log), log[-2000:]


@suite.case
def pop3_xclient_and_proxied_login_need_a_trusted_peer(t):
    port = t.be[0].port("pop3")
    r = Raw("127.0.0.2", port, source="127.0.0.5")
    r.line()
    r.send("XCLIENT ADDR=192.0.2.7 PORT=4000\r\n")
    assert r.line().startswith("-ERR"), "XCLIENT from an untrusted peer"
    r.send("AUTH PLAIN %s\r\n" % plain("alice@example.test", IDENTITY, SECRET))
    assert r.line().startswith("-ERR [AUTH]"), "proxied login from an untrusted peer"
    r.close()
    r = Raw("127.0.0.2", port, source="127.0.0.1")
    r.line()
    r.send("XCLIENT ADDR=192.0.2.7 PORT=4000\r\n")
    assert r.line().startswith("+OK")
    r.send("XCLIENT ADDR=not-an-address\r\n")
    assert r.line().startswith("-ERR")
    r.send("AUTH PLAIN %s\r\n" % plain("alice@example.test", IDENTITY, "wrong-secret-wrong-secret"))
    assert r.line().startswith("-ERR [AUTH]"), "wrong secret"
    r.close()
    log = t.log(t.be[0])
    assert "192.0.2.7" in log and "wrong secret" in log and "not in trusted_proxies" in log


@suite.case
def pop3_back_end_down_answers_sys_temp(t):
    p = pop3_from(t)
    p.user("dora@example.test")
    start = time.time()
    try:
        p.pass_(PASSWORD)
        raise AssertionError("logged in to a back end that is down")
    except poplib.error_proto as e:
        assert b"[SYS/TEMP]" in e.args[0], e
    assert time.time() - start < 6
    p.user("local@example.test")
    try:
        p.pass_(PASSWORD)
        raise AssertionError("a proxy served a local user")
    except poplib.error_proto as e:
        assert b"[SYS/TEMP]" in e.args[0], e
    p.quit()


@suite.case
def back_end_counts_sessions_per_client_address_not_per_proxy(t):
    # [limits] max_imap_connections_per_user_ip (10): eleven clients on
    # eleven addresses share one proxy address at the back end
    clients = []
    for i in range(11):
        c = imap_proxy(t, source="127.0.0.%d" % (20 + i))
        assert c.login("alice@example.test", PASSWORD)[0] == "OK", i
        clients.append(c)
    # the eleventh from one address is refused, at the proxy
    same = [imap_proxy(t, source="127.0.0.40") for _ in range(11)]
    for c in same[:10]:
        assert c.login("alice@example.test", PASSWORD)[0] == "OK"
    try:
        same[10].login("alice@example.test", PASSWORD)
        raise AssertionError("an eleventh session from one address")
    except (imaplib.IMAP4.abort, imaplib.IMAP4.error, EOFError, OSError) as e:
        assert "LIMIT" in str(e) or isinstance(e, (EOFError, OSError)), e
    for c in clients + same[:10]:
        c.logout()
    assert "reason=max_imap_connections_per_user_ip" in t.log(t.proxy)
    assert "max_imap_connections_per_user_ip" not in t.log(t.be[0])


@suite.case
def imap_commands_pipelined_after_login_reach_the_back_end(t):
    deliver(t.be[0], "alice@example.test", "pipelined")
    r = Raw("127.0.0.1", t.proxy.port("imap"))
    r.line()
    # one write: the login and what follows it (RFC 9051 5.5 allows it)
    r.send("a LOGIN alice@example.test \"%s\"\r\nb SELECT INBOX\r\nc NOOP\r\n" % PASSWORD)
    assert r.until("a")[-1].startswith("a OK")
    assert "* 1 EXISTS" in r.until("b")
    assert r.until("c")[-1].startswith("c OK")
    r.close()


@suite.case
def back_end_killed_mid_session_closes_the_client(t):
    r = Raw("127.0.0.1", t.proxy.port("imap"))
    r.line()
    r.send("a LOGIN alice@example.test \"%s\"\r\n" % PASSWORD)
    r.until("a")
    r.send("b SELECT INBOX\r\nc IDLE\r\n")
    r.until("b")
    assert r.line().startswith("+ ")
    t.be[0].kill()
    r.sock.settimeout(5)
    rest = b""
    while True:
        d = r.sock.recv(4096)
        if not d:
            break
        rest += d
    assert b"OK" not in rest, rest
    r.close()
    t.be[0].start()
    # a session left open is closed cleanly when the proxy stops (teardown
    # checks the exit status: ASan's leak check included)
    r = Raw("127.0.0.1", t.proxy.port("imap"))
    r.line()
    r.send("a LOGIN bob@example.test \"%s\"\r\n" % PASSWORD)
    assert r.until("a")[-1].startswith("a OK")
    r.send("b IDLE\r\n")
    assert r.line().startswith("+ ")
    assert t.proxy.stop() == 0, t.proxy.tail(60)
    r.sock.settimeout(5)
    try:
        tail = r.sock.recv(4096)
    except ConnectionResetError:
        tail = b""
    assert tail == b"", tail
    r.close()


@suite.case
def submission_through_the_proxy(t):
    class From(smtplib.SMTP):
        def _get_socket(self, host, port, timeout):
            return socket.create_connection((host, port), timeout, source_address=("127.0.0.9", 0))
    s = From("127.0.0.1", t.proxy.port("submission"), timeout=30)
    s.ehlo("client.example")
    code, _ = s.login("alice@example.test", PASSWORD)
    assert code == 235
    port = s.sock.getsockname()[1]
    s.sendmail("alice@example.test", ["alice@example.test"],
               b"From: alice@example.test\r\nTo: alice@example.test\r\nSubject: sent via the proxy\r\n\r\nhi\r\n")
    s.quit()
    # submitted by the back end as alice, delivered into her mailbox there
    deadline = time.time() + 10
    while True:
        c = imap_proxy(t)
        c.login("alice@example.test", PASSWORD)
        typ, data = c.select("INBOX")
        c.logout()
        if data == [b"1"] or time.time() > deadline:
            break
        time.sleep(0.2)
    assert data == [b"1"], data
    log = t.log(t.be[0])
    assert re.search(r"smtp \S+ auth user=alice@example\.test peer=127\.0\.0\.9 port=%d proxy=127\.0\.0\.1 "
                     r".*result=ok" % port, log), log[-2000:]
    # a wrong password is refused at the proxy; a back end that is down: 454
    s = smtplib.SMTP("127.0.0.1", t.proxy.port("submission"), timeout=30)
    s.ehlo("client.example")
    try:
        s.login("alice@example.test", "wrong")
        raise AssertionError("a wrong password was taken")
    except smtplib.SMTPAuthenticationError as e:
        assert e.smtp_code == 535, e
    s.quit()
    s = smtplib.SMTP("127.0.0.1", t.proxy.port("submission"), timeout=30)
    s.ehlo("client.example")
    try:
        s.login("dora@example.test", PASSWORD)
        raise AssertionError("logged in to a back end that is down")
    except smtplib.SMTPAuthenticationError as e:
        assert e.smtp_code == 454, e
    s.quit()


@suite.case
def submission_xclient_needs_a_trusted_peer(t):
    port = t.be[0].port("submission")
    r = Raw("127.0.0.2", port, source="127.0.0.5")
    assert r.line().startswith("220 ")
    r.send("EHLO x\r\nXCLIENT ADDR=192.0.2.8\r\n")
    while not r.line().startswith("250 "):
        pass
    assert r.line().startswith("550 5.7.0"), "XCLIENT from an untrusted peer"
    r.send("AUTH PLAIN %s\r\n" % plain("alice@example.test", IDENTITY, SECRET))
    assert r.line().startswith("535"), "proxied AUTH from an untrusted peer"
    r.close()
    r = Raw("127.0.0.2", port, source="127.0.0.1")
    r.line()
    r.send("XCLIENT ADDR=192.0.2.8 PORT=5\r\n")
    assert r.line().startswith("220 "), "XCLIENT answered with a new greeting"
    r.send("AUTH PLAIN %s\r\n" % plain("alice@example.test", IDENTITY, SECRET))
    assert r.line().startswith("503"), "EHLO again first"
    r.send("EHLO x\r\n")
    while not r.line().startswith("250 "):
        pass
    r.send("AUTH PLAIN %s\r\n" % plain("alice@example.test", IDENTITY, SECRET))
    assert r.line().startswith("235"), "trusted proxy with the secret"
    r.close()
    assert "192.0.2.8" in t.log(t.be[0])


@suite.case
def a_bad_secret_file_stops_the_server(t):
    short = os.path.join(t.tmp, "short")
    with open(short, "w") as f:
        f.write("too short\n")
    srv = Server(extra="[server]\nrole = proxy\n[proxy]\nsecret_file = %s\n" % short)
    try:
        try:
            srv.start()
            raise AssertionError("started with a 9-byte secret")
        except AssertionError as e:
            assert "the secret must be one line of 16 to 256 bytes" in str(e), e
        assert "AddressSanitizer" not in srv.tail(60), srv.tail(60)
    finally:
        srv.stop()                 # it has exited: this only reaps it
        srv.cleanup()


def hop_over_tls(t, mode):
    t.stop()                       # this case needs tiers of its own
    t.__init__(hop_tls=mode)
    deliver(t.be[0], "alice@example.test", "over tls")
    c = imap_proxy(t)
    assert c.login("alice@example.test", PASSWORD)[0] == "OK"
    typ, data = c.select("INBOX")
    assert typ == "OK" and data == [b"1"], data
    c.logout()
    p = pop3_from(t)
    p.user("alice@example.test")
    assert p.pass_(PASSWORD).startswith(b"+OK"), "POP3 over STLS on the hop"
    assert p.stat()[0] == 1
    p.quit()
    s = smtplib.SMTP("127.0.0.1", t.proxy.port("submission"), timeout=30)
    s.ehlo("client.example")
    assert s.login("alice@example.test", PASSWORD)[0] == 235, "submission over STARTTLS on the hop"
    s.quit()
    # be2's certificate names 127.0.0.2, not its own address: refused
    c = imap_proxy(t)
    try:
        c.login("bob@example.test", PASSWORD)
        raise AssertionError("a back end with a wrong certificate was used")
    except imaplib.IMAP4.error as e:
        assert "[UNAVAILABLE]" in str(e), e
    c.logout()
    assert re.search(r"backend=be2 .*unavailable reason=\"TLS with the back end failed: .*mismatch", t.log(t.proxy)), \
        t.log(t.proxy)[-1500:]


@suite.case
def hop_over_starttls_checks_the_back_ends_certificate(t):
    hop_over_tls(t, "starttls")


@suite.case
def hop_over_implicit_tls_checks_the_back_ends_certificate(t):
    hop_over_tls(t, "implicit")


if __name__ == "__main__":
    suite.run(setup, teardown)
