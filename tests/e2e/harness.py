"""End-to-end test harness: starts a real `tern serve` on free loopback
ports with a throw-away config and data directory, and runs test cases
that talk to it with Python's standard client libraries.

Each case prints "ok NAME" or "not ok NAME" (tests/run.sh counts them)."""

import atexit
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TERN = os.environ.get("TERN_BIN", os.path.join(ROOT, "build", "tern"))
SERVICES = ["pop3", "pop3s", "smtp", "submission", "submissions", "imap", "imaps", "http", "https"]
TLS_SERVICES = ("pop3s", "submissions", "imaps", "https")
PASSWORD = "correct horse battery"
# TERN_TEST_DIRECTORY=postgresql: every Server keeps its directory in a
# database of its own on one PostgreSQL that this process starts.
DIRECTORY = os.environ.get("TERN_TEST_DIRECTORY", "sqlite")
_pg = None


def shared_pg():
    """The PostgreSQL of this test process, started on first use."""
    global _pg
    if _pg is None:
        from pgserver import PgServer
        _pg = PgServer().start()
    return _pg


def free_ports(n):
    """n distinct free ports (all held open while choosing, so no two are
    the same; another program can still take one before the server binds,
    which Server.start() handles)."""
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def listening(port, pid):
    """True once process pid holds a socket listening on port, as
    /proc/net/tcp and /proc/PID/fd tell.  No connection is made: a probe
    connection would count against the server's connection limits
    (max_connections, max_connections_smtp, max_unauthenticated) until the
    server had noticed it closed, and a test that fills a limit would
    then find it full too early."""
    inodes = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add("socket:[%s]" % fields[9])
        except (OSError, StopIteration):
            continue
    if not inodes:
        return False
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) in inodes:
                return True
        except OSError:
            continue
    return False


_cert_dir = None


def certificate():
    """A self-signed certificate for mail.example.test, made once per run."""
    global _cert_dir
    if _cert_dir is None:
        _cert_dir = tempfile.mkdtemp(prefix="tern-cert-")
        atexit.register(shutil.rmtree, _cert_dir, True)
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=mail.example.test",
             "-addext", "subjectAltName=DNS:mail.example.test,DNS:localhost,IP:127.0.0.1",
             "-keyout", os.path.join(_cert_dir, "key.pem"),
             "-out", os.path.join(_cert_dir, "cert.pem")],
            check=True, capture_output=True)
    return os.path.join(_cert_dir, "cert.pem"), os.path.join(_cert_dir, "key.pem")


class Server:
    """One tern instance with its own data directory."""

    def __init__(self, allow_plaintext="loopback", max_message_size="50M", extra="", tls=True, listen=None,
                 dsn=None, add_domains=True):
        """listen: {service: (host, port)} for listeners that must sit at a
        given address, such as a destination MX on 127.0.0.x.  dsn: a
        PostgreSQL directory (default: none, unless TERN_TEST_DIRECTORY
        says postgresql: then a fresh database on shared_pg(); "": SQLite
        whatever it says).
        add_domains=False: a second server on a directory that has them."""
        if dsn is None and DIRECTORY == "postgresql":
            dsn = shared_pg().create_database()
        self.dsn = dsn
        self.dir = tempfile.mkdtemp(prefix="tern-e2e-")
        self.data = os.path.join(self.dir, "data")
        self.conf = os.path.join(self.dir, "tern.conf")
        services = SERVICES if tls else [s for s in SERVICES if s not in TLS_SERVICES]
        self.ports = dict(zip(services, free_ports(len(services))))
        self.hosts = {}
        for service, (host, port) in (listen or {}).items():
            self.hosts[service] = host
            self.ports[service] = port
        self.log_path = os.path.join(self.dir, "server.log")
        self.proc = None
        self.settings = (allow_plaintext, max_message_size, extra, tls)
        self.write_config()
        if add_domains:
            self.cli("domain", "add", "example.test")
            self.cli("domain", "add", "example.org")

    def write_config(self):
        allow_plaintext, max_message_size, extra, tls = self.settings
        cert, key = certificate()
        lines = ["[server]", "hostname = mail.example.test", "data_dir = " + self.data,
                 "threads = 2", "workers = 4", "log_level = debug"]
        if tls:
            lines += ["[tls]", "cert = " + cert, "key = " + key]
        lines += ["[listen]"]
        for s, p in self.ports.items():
            lines.append("%s = %s:%d" % (s, self.hosts.get(s, "127.0.0.1"), p))
        # Tests stay on loopback: unless a test configures them, no
        # DNS lookups for port 25's checks, and outbound mail goes to a
        # closed local port (it waits in the queue) instead of the world.
        if "[inbound]" not in extra:
            lines += ["[inbound]", "checks = no"]
        if "[delivery]" not in extra:
            lines += ["[delivery]", "relay = 127.0.0.1:9"]
        if self.dsn:
            lines += ["[directory]", "backend = postgresql", "dsn = " + self.dsn]
        # [limits] stays last: some tests add keys to it with no header
        lines += ["[auth]", "allow_plaintext = " + allow_plaintext,
                  "[limits]", "max_message_size = " + max_message_size]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n" + extra)

    def cli(self, *args, input=None, check=True):
        r = subprocess.run([TERN, "--config", self.conf] + list(args), input=input,
                           capture_output=True, text=True)
        if check and r.returncode != 0:
            raise AssertionError("tern %s failed: %s" % (" ".join(args), r.stderr))
        return r

    def db(self):
        """A connection to the directory's database: sqlite3 on
        directory.db, or pgserver.PgConnection on PostgreSQL."""
        if self.dsn:
            from pgserver import PgConnection
            return PgConnection(self.dsn)
        import sqlite3
        return sqlite3.connect(os.path.join(self.data, "directory.db"))

    def add_user(self, address, password=PASSWORD, role="user"):
        self.cli("user", "add", address, "--password-stdin", "--role", role, input=password + "\n")

    def start(self):
        # free_ports() can race with another program taking the port: if
        # the server could not bind, pick new ports and try again.
        for attempt in range(3):
            try:
                return self.start_once()
            except AssertionError:
                if attempt == 2 or "Address already in use" not in self.tail(20):
                    raise
                self.log.close()
                self.proc = None
                self.ports = dict(zip(self.ports, free_ports(len(self.ports))))
                self.write_config()

    def start_once(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([TERN, "serve", "--config", self.conf],
                                     stdout=self.log, stderr=self.log)
        deadline = time.time() + 15
        for s, p in self.ports.items():
            while not listening(p, self.proc.pid):
                if self.proc.poll() is not None:
                    raise AssertionError("server exited: " + self.tail())
                if time.time() > deadline:
                    raise AssertionError("server did not listen on %s: %s" % (s, self.tail()))
                time.sleep(0.05)
        return self

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Stops the server; returns its exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            status = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            status = self.proc.wait()
        self.proc = None
        self.log.close()
        return status

    def kill(self):
        return self.stop(signal.SIGKILL)

    def tail(self, n=40):
        try:
            with open(self.log_path, "rb") as f:
                return b"".join(f.readlines()[-n:]).decode("utf-8", "replace")
        except OSError:
            return ""

    def cleanup(self):
        if self.proc is not None:
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def port(self, service):
        return self.ports[service]


def client_tls():
    """A client context that trusts the test certificate."""
    ctx = ssl.create_default_context(cafile=certificate()[0])
    return ctx


class Raw:
    """A raw line-based client, for bytes no library will send."""

    def __init__(self, port, tls=False, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if tls:
            self.sock = client_tls().wrap_socket(self.sock, server_hostname="mail.example.test")
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; buffered: %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self):
        """An SMTP reply: all lines up to the one with a space after the code."""
        lines = [self.line()]
        while len(lines[-1]) > 3 and lines[-1][3] == "-":
            lines.append(self.line())
        return lines

    def closed(self, timeout=5):
        """True if the server closes the connection within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                d = self.sock.recv(65536)
                if not d:
                    return True
                self.buf += d
        except (socket.timeout, TimeoutError):
            return False
        except (ConnectionResetError, ssl.SSLError, OSError):
            return True

    def starttls(self):
        self.sock = client_tls().wrap_socket(self.sock, server_hostname="mail.example.test")
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Suite:
    """Collects cases; run() gives each a fresh fixture made by setup()."""

    def __init__(self):
        self.cases = []

    def case(self, fn):
        self.cases.append(fn)
        return fn

    def run(self, setup, teardown):
        failures = 0
        only = os.environ.get("TERN_TEST_ONLY")
        for fn in self.cases:
            if only and only not in fn.__name__:
                continue
            fixture = None
            try:
                fixture = setup()
                fn(fixture)
                print("ok", fn.__name__, flush=True)
            except Exception:
                failures += 1
                print("not ok", fn.__name__, flush=True)
                for line in traceback.format_exc().splitlines():
                    print("#", line)
                if isinstance(fixture, Server):
                    for line in fixture.tail(30).splitlines():
                        print("# server:", line)
            finally:
                if fixture is not None:
                    try:
                        teardown(fixture)
                    except Exception:
                        failures += 1
                        print("not ok", fn.__name__ + " teardown")
                        for line in traceback.format_exc().splitlines():
                            print("#", line)
        sys.exit(1 if failures else 0)


def standard_server(**kw):
    """A started server with users alice, bob (example.test) and carol (example.org)."""
    srv = Server(**kw)
    srv.add_user("alice@example.test")
    srv.add_user("bob@example.test")
    srv.add_user("carol@example.org")
    return srv.start()


def stop_and_check(srv):
    """Teardown: a clean SIGTERM stop must exit 0 (ASan leak reports fail)."""
    status = srv.stop()
    log = srv.tail(60)
    srv.cleanup()
    if status != 0:
        raise AssertionError("server exit status %s:\n%s" % (status, log))
