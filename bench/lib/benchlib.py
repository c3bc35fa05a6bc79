"""Shared plumbing for Tern's benchmarks (bench/README.md).

Sets up, in one throw-away directory, a Tern instance (build/tern and its
command line, as tests/e2e/harness.py does), and the reference servers run
from their own config directories on free loopback ports: Dovecot (POP3,
POP3S, LMTP) with `dovecot -c`, and Postfix with `postfix -c`.  No system
service is used or touched.  Runs the load generator (bench/loadgen.c,
built as build/bench/tern-load) and collects its RESULT lines.

Standard library only.  Must run as root (the reference servers drop to
their own users; the packages are installed with apt-get)."""

import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TERN = os.environ.get("TERN_BIN", os.path.join(ROOT, "build", "tern"))
LOADGEN = os.path.join(ROOT, "build", "bench", "tern-load")
PASSWORD = "bench-password"
DOMAIN = "example.test"


def say(*args):
    print("bench:", *args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- setup

def ensure_packages(pkgs):
    """Installs the Debian packages in pkgs that are missing (bench only:
    they are not in scripts/deps.sh).  Postfix is preseeded to "No
    configuration" so that installing it starts no system mail service."""
    missing = []
    for p in pkgs:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True)
        if "install ok installed" not in r.stdout:
            missing.append(p)
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit("bench: missing packages %s; run as root or install them" % " ".join(missing))
    say("installing bench-only packages:", " ".join(missing))
    if "postfix" in missing:
        subprocess.run(["debconf-set-selections"], input="postfix postfix/main_mailer_type select No configuration\n",
                       text=True, check=False)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + missing
    if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)


def build():
    """Builds the release binary (not with ONLY=dovecot) and the load
    generators."""
    if "TERN_BIN" not in os.environ and os.environ.get("ONLY") != "dovecot":
        subprocess.run(["make", "-s", "-C", ROOT, "build/tern"], check=True)
    subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "bench")], check=True)


def raise_nofile(at_least=None):
    """Raises the open-file limit to the hard limit; with at_least, raises
    the hard limit too when it is lower (root may, up to fs.nr_open).  The
    servers started afterwards inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if at_least is not None and hard != resource.RLIM_INFINITY and hard < at_least:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (at_least, at_least))
            say("raised the open-file limit to %d" % at_least)
        except (ValueError, OSError):
            pass
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except ValueError:
        pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc_alive=None, timeout=20):
    deadline = time.time() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc_alive is not None and not proc_alive():
                raise RuntimeError("server exited before listening on %d" % port)
            if time.time() > deadline:
                raise RuntimeError("nothing listens on port %d" % port)
            time.sleep(0.05)


class Workdir:
    """A temporary directory for one benchmark run (KEEP=1 keeps it)."""

    def __init__(self, name):
        self.path = tempfile.mkdtemp(prefix="tern-bench-%s-" % name)
        os.chmod(self.path, 0o755)   # the reference servers' users must reach inside
        self.cert, self.key = make_certificate(self.path)

    def sub(self, name):
        p = os.path.join(self.path, name)
        os.makedirs(p, exist_ok=True)
        return p

    def cleanup(self):
        if os.environ.get("KEEP"):
            say("kept", self.path)
        else:
            shutil.rmtree(self.path, ignore_errors=True)


def make_certificate(d):
    """One self-signed RSA-2048 certificate, used by Tern and Dovecot alike."""
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=mail.example.test",
         "-addext", "subjectAltName=DNS:mail.example.test,DNS:localhost,IP:127.0.0.1",
         "-keyout", key, "-out", cert], check=True, capture_output=True)
    os.chmod(key, 0o644)  # read by Dovecot's config parser after it starts as root; temp dir only
    return cert, key


def user(n):
    return "user%02d@%s" % (n, DOMAIN)


USER_FMT = "user%02d@" + DOMAIN


# ---------------------------------------------------------------- Tern

class Tern:
    """One `tern serve` with its own config and data directory."""

    SERVICES = ["pop3", "pop3s", "smtp", "submission", "submissions"]

    def __init__(self, work, extra="", services=None):
        self.dir = work.sub("tern")
        self.data = os.path.join(self.dir, "data")
        self.conf = os.path.join(self.dir, "tern.conf")
        self.log_path = os.path.join(self.dir, "server.log")
        self.ports = {s: free_port() for s in (services or self.SERVICES)}
        self.proc = None
        lines = ["[server]", "hostname = mail.example.test", "data_dir = " + self.data,
                 "[tls]", "cert = " + work.cert, "key = " + work.key]
        if "[inbound]" not in extra:
            # the reference Postfix runs no SPF/DKIM/DMARC checks, and the
            # bench's sender domains have no DNS: compare like with like
            lines += ["[inbound]", "checks = no"]
        lines += ["[listen]"]
        lines += ["%s = 127.0.0.1:%d" % (s, p) for s, p in self.ports.items()]
        lines += ["[auth]", "allow_plaintext = loopback", "[limits]", "max_connections = 20000",
                  # the load comes from one address and holds idle logins
                  "max_connections_per_ip = 0", "max_unauthenticated = 0", "auth_timeout = 0"]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n" + extra)
        self.cli("domain", "add", DOMAIN)

    def cli(self, *args, input=None):
        r = subprocess.run([TERN, "--config", self.conf] + list(args), input=input,
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("tern %s failed: %s" % (" ".join(args), r.stderr.strip()))
        return r.stdout

    def add_users(self, n):
        for i in range(1, n + 1):
            self.cli("user", "add", user(i), "--password-stdin", input=PASSWORD + "\n")

    def import_users(self, n, fmt, password_field):
        """Adds users fmt % 1 .. fmt % n at once with `tern user
        import-passwd`, all with the same password field (a crypt hash:
        see fast_password_hash())."""
        path = os.path.join(self.dir, "users.passwd")
        with open(path, "w") as f:
            for i in range(1, n + 1):
                f.write("%s:%s::::::\n" % (fmt % i, password_field))
        self.cli("user", "import-passwd", path)

    def start(self, wait_for=None):
        """Starts the server and waits for its ports (or only the services
        in wait_for)."""
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([TERN, "serve", "--config", self.conf],
                                     stdout=self.log, stderr=self.log)
        for s, p in self.ports.items():
            if wait_for is None or s in wait_for:
                wait_port(p, lambda: self.proc.poll() is None)
        return self

    def serves(self, service, timeout=3):
        """True if the running server accepts connections for service."""
        try:
            wait_port(self.ports[service], lambda: self.proc.poll() is None, timeout=timeout)
            return True
        except RuntimeError:
            return False

    def pids(self):
        return [self.proc.pid] if self.proc is not None else []

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            status = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            status = self.proc.wait()
        if status != 0:
            say("tern exited with status %s; log tail:\n%s" % (status, self.tail()))
        self.proc = None
        self.log.close()

    def tail(self, n=30):
        try:
            with open(self.log_path, "rb") as f:
                return b"".join(f.readlines()[-n:]).decode("utf-8", "replace")
        except OSError:
            return ""


# ---------------------------------------------------------------- Dovecot

IMAP_SERVICE = """
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %d
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = %d
    ssl = yes
  }
}
"""


class Dovecot:
    """Dovecot from its own config: POP3, POP3S (and IMAP, IMAPS with
    imap=True) and LMTP on loopback ports,
    Maildir++ under work/dovecot/mail/<domain>/<user>, users in a
    passwd-file with {PLAIN} passwords, mail owned by the `mail` user.
    Everything else is Dovecot's default (login processes in their default
    high-security mode, mail_fsync=optimized)."""

    def __init__(self, work, users=10, lmtp=False, extra="", name="dovecot", imap=False,
                 user_fmt=USER_FMT, password_field=None):
        self.dir = work.sub(name)
        self.mail = os.path.join(self.dir, "mail")
        os.makedirs(self.mail, exist_ok=True)
        shutil.chown(self.mail, "mail", "mail")
        self.conf = os.path.join(self.dir, "dovecot.conf")
        self.base = os.path.join(self.dir, "run")
        self.log_path = os.path.join(self.dir, "dovecot.log")
        self.user_fmt = user_fmt
        self.ports = {"pop3": free_port(), "pop3s": free_port()}
        if imap:
            self.ports.update(imap=free_port(), imaps=free_port())
        if lmtp:
            self.ports["lmtp"] = free_port()
        if password_field is None:
            password_field = "{PLAIN}" + PASSWORD
        with open(os.path.join(self.dir, "users"), "w") as f:
            for i in range(1, users + 1):
                f.write("%s:%s::::::\n" % (user_fmt % i, password_field))
        protocols = " ".join(p for p, on in (("imap", imap), ("pop3", True), ("lmtp", lmtp)) if on)
        lmtp_service = ""
        if lmtp:
            lmtp_service = """
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = %d
  }
}
""" % self.ports["lmtp"]
        with open(self.conf, "w") as f:
            f.write("""# Reference Dovecot for Tern's benchmarks (made by bench/lib/benchlib.py)
base_dir = {base}
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = {protocols}
listen = 127.0.0.1
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = 8
mail_location = maildir:{mail}/%d/%n
pop3_uidl_format = %08Xu%08Xv
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {d}/users
}}
userdb {{
  driver = static
  args = uid=mail gid=mail home={mail}/%d/%n allow_all_users=yes
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = {pop3s}
    ssl = yes
  }}
}}
{lmtp_service}
{imap_service}
{extra}
""".format(base=self.base, d=self.dir, protocols=protocols, cert=work.cert, key=work.key,
           mail=self.mail, pop3=self.ports["pop3"], pop3s=self.ports["pop3s"],
           lmtp_service=lmtp_service, extra=extra,
           imap_service=IMAP_SERVICE % (self.ports["imap"], self.ports["imaps"]) if imap else ""))

    def start(self):
        # Dovecot daemonizes: its children must not inherit a pipe of ours
        with open(os.path.join(self.dir, "start.err"), "w+") as err:
            r = subprocess.run(["dovecot", "-c", self.conf], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=err)
            if r.returncode != 0:
                err.seek(0)
                raise RuntimeError("dovecot failed to start: " + err.read() + self.tail())
        for p in self.ports.values():
            wait_port(p)
        return self

    def master_pid(self):
        with open(os.path.join(self.base, "master.pid")) as f:
            return int(f.read().strip())

    def pids(self):
        return process_tree(self.master_pid())

    def stop(self):
        try:
            pid = self.master_pid()
        except OSError:
            return
        subprocess.run(["dovecot", "-c", self.conf, "stop"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        while time.time() < deadline and os.path.exists("/proc/%d" % pid):
            time.sleep(0.05)

    def tail(self, n=30):
        try:
            with open(self.log_path, "rb") as f:
                return b"".join(f.readlines()[-n:]).decode("utf-8", "replace")
        except OSError:
            return ""

    def maildir(self, n):
        return os.path.join(self.mail, DOMAIN, (self.user_fmt % n).split("@")[0])

    def count_messages(self, users):
        """Messages visible in the users' INBOXes (Maildir new/ + cur/)."""
        total = 0
        for i in range(1, users + 1):
            for sub in ("new", "cur"):
                try:
                    total += len(os.listdir(os.path.join(self.maildir(i), sub)))
                except FileNotFoundError:
                    pass
        return total


# ---------------------------------------------------------------- Postfix

class Postfix:
    """Postfix from its own config directory (`postfix -c`): smtpd on a
    loopback port, example.test as the local domain, every recipient
    accepted and handed to Dovecot's LMTP (local_transport = lmtp:...).
    Its own queue directory; Postfix's defaults otherwise (the queue file
    is fsynced before the 250)."""

    def __init__(self, work, lmtp_port, extra_main="", smtpd_maxproc="-"):
        self.dir = work.sub("postfix")
        self.etc = os.path.join(self.dir, "etc")
        os.makedirs(self.etc, exist_ok=True)
        self.port = free_port()
        self.log_path = os.path.join(self.dir, "postfix.log")
        main = """# Reference Postfix for Tern's benchmarks (made by bench/lib/benchlib.py)
compatibility_level = 3.6
queue_directory = {d}/spool
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = ref.example.test
mydomain = example.test
myorigin = $mydomain
mydestination = example.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
local_recipient_maps =
local_transport = lmtp:inet:127.0.0.1:{lmtp}
alias_maps =
alias_database =
biff = no
append_dot_mydomain = no
smtputf8_enable = no
maillog_file = {d}/postfix.log
maillog_file_prefixes = {d}
{extra}
""".format(d=self.dir, lmtp=lmtp_port, extra=extra_main)
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write(main)
        services = [
            "127.0.0.1:%d inet n - n - %s smtpd" % (self.port, smtpd_maxproc),
            "pickup unix n - n 60 1 pickup",
            "cleanup unix n - n - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "rewrite unix - - n - - trivial-rewrite",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
            "verify unix - - n - 1 verify",
            "flush unix n - n 1000? 0 flush",
            "proxymap unix - - n - - proxymap",
            "proxywrite unix - - n - 1 proxymap",
            "smtp unix - - n - - smtp",
            "relay unix - - n - - smtp",
            "showq unix n - n - - showq",
            "error unix - - n - - error",
            "retry unix - - n - - error",
            "discard unix - - n - - discard",
            "local unix - n n - - local",
            "lmtp unix - - n - - lmtp",
            "anvil unix - - n - 1 anvil",
            "scache unix - - n - 1 scache",
            "postlog unix-dgram n - n - 1 postlogd",
        ]
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write("\n".join(services) + "\n")

    def postfix(self, *args):
        # like Dovecot, the master daemonizes: no pipes of ours in its hands
        with open(os.path.join(self.dir, "postfix-cmd.out"), "w+") as out:
            r = subprocess.run(["postfix", "-c", self.etc] + list(args), stdin=subprocess.DEVNULL,
                               stdout=out, stderr=subprocess.STDOUT)
            out.seek(0)
            r.stdout, r.stderr = out.read(), ""
        return r

    def start(self):
        os.makedirs(os.path.join(self.dir, "spool"), exist_ok=True)
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        shutil.chown(os.path.join(self.dir, "data"), "postfix")
        self.postfix("check")   # creates the queue's subdirectories
        r = self.postfix("start")
        if r.returncode != 0:
            raise RuntimeError("postfix failed to start: " + r.stdout + r.stderr)
        wait_port(self.port)
        return self

    def master_pid(self):
        with open(os.path.join(self.dir, "spool", "pid", "master.pid")) as f:
            return int(f.read().strip())

    def pids(self):
        return process_tree(self.master_pid())

    def stop(self):
        try:
            pid = self.master_pid()
        except (OSError, ValueError):
            pid = None
        self.postfix("stop")
        deadline = time.time() + 20
        while pid and time.time() < deadline and os.path.exists("/proc/%d" % pid):
            time.sleep(0.05)

    def queue_size(self):
        n = 0
        for sub in ("incoming", "active", "deferred", "maildrop", "hold"):
            for _, _, files in os.walk(os.path.join(self.dir, "spool", sub)):
                n += len(files)
        return n


# ---------------------------------------------------------------- processes

def process_tree(root):
    """root and all its descendants."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                s = f.read()
            ppid = int(s[s.rindex(")") + 2:].split()[1])
        except (OSError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pids):
    """CPU time (user + system) of pids, plus that of their children that
    have exited and been waited for (cutime, cstime), in seconds.  The
    difference of two readings over the same process tree is the CPU the
    tree used in between, even when children came and went."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                s = f.read()
        except OSError:
            continue
        fields = s[s.rindex(")") + 2:].split()
        total += sum(int(x) for x in fields[11:15])   # utime stime cutime cstime
    return total / tick


def memory_kib(pids):
    """(RSS, PSS, private dirty) in KiB summed over pids.  PSS shares each
    page among the processes that map it, so it moves when any other
    process (the load generator, say) maps the same libraries; private
    dirty counts the pages a process has written and shares with no one
    (heap, stacks, buffers), which other processes cannot move (a page
    still shared copy-on-write with a parent is not counted)."""
    rss = pss = dirty = 0
    for p in pids:
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
                    elif line.startswith("Private_Dirty:"):
                        dirty += int(line.split()[1])
        except OSError:
            pass
    return rss, pss, dirty


# ---------------------------------------------------------------- load generator

def parse_result(text):
    for line in text.splitlines():
        if line.startswith("RESULT "):
            return {k: float(v) for k, v in (kv.split("=", 1) for kv in line.split()[1:])}
    raise RuntimeError("no RESULT from tern-load:\n" + text)


def loadgen(mode, *args, timeout=600):
    r = subprocess.run([LOADGEN, mode] + [str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    if r.stderr.strip():
        for line in r.stderr.strip().splitlines()[:10]:
            say("tern-load:", line)
    return parse_result(r.stdout)


# ---------------------------------------------------------------- figures

def rounds(default=3):
    return max(1, int(os.environ.get("ROUNDS", default)))


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def table(title, rows, header):
    """Prints a plain-text table; rows are lists of already-formatted cells."""
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    print()
    print(title)
    fmt = "  ".join("%%-%ds" % w if i == 0 else "%%%ds" % w for i, w in enumerate(widths))
    print(fmt % tuple(header))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(fmt % tuple(r))
    sys.stdout.flush()


def ratio(a, b):
    return a / b if b else float("nan")


def machine_line():
    try:
        with open("/proc/cpuinfo") as f:
            model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")
    except OSError:
        model = "?"
    return "%s, %d cores, %s" % (model, os.cpu_count() or 0, time.strftime("%Y-%m-%d"))


# ---------------------------------------------------------------- IMAP helpers

def fast_password_hash():
    """One SHA512-CRYPT hash of PASSWORD with the fewest rounds crypt(3)
    allows (1,000): for benchmarks with thousands of users, where neither
    making the users nor logging them in is what is measured.  Both Tern
    (import-passwd) and Dovecot (passwd-file) take it as it is."""
    salt = "$6$rounds=1000$ternbench$"
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import crypt
        h = crypt.crypt(PASSWORD, salt)
        if h and h.startswith("$6$"):
            return h
    except ImportError:
        pass
    r = subprocess.run(["perl", "-e", "print crypt($ARGV[0], $ARGV[1])", PASSWORD, salt],
                       capture_output=True, text=True, check=True)
    return r.stdout.strip()


class Sysctl:
    """Raises a /proc/sys value for the benchmark's duration (never lowers
    it), and puts the old value back at the end."""

    def __init__(self, name, at_least):
        self.path = "/proc/sys/" + name.replace(".", "/")
        self.name = name
        with open(self.path) as f:
            self.old = f.read().strip()
        self.changed = False
        if int(self.old.split()[0]) < at_least:
            with open(self.path, "w") as f:
                f.write(str(at_least))
            self.changed = True
            say("raised %s from %s to %d (put back at the end)" % (name, self.old, at_least))

    def restore(self):
        if self.changed:
            with open(self.path, "w") as f:
                f.write(self.old)
            self.changed = False
            say("%s back to %s" % (self.name, self.old))


class ImapClient:
    """A minimal IMAP client that times commands: it sends one command,
    reads until its tagged response, and keeps the bytes only on request.
    Responses are read in large chunks and only the end of what has arrived
    is searched for the tag, so that the client's own cost stays small next
    to a server sending megabytes.  (The generated mailboxes have no
    literal that could contain a line starting with a tag.)"""

    def __init__(self, port, tls=False, timeout=600):
        import ssl
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.sock = ctx.wrap_socket(self.sock, server_hostname="mail.example.test")
        self.n = 0
        self.pending = b""
        self.greeting = self._read_until(lambda buf: b"\r\n" in buf)

    def _read_until(self, done):
        parts, tail = [], self.pending
        self.pending = b""
        if tail:
            parts.append(tail)
            if done(tail):
                return b"".join(parts)
        while True:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise RuntimeError("IMAP server closed the connection")
            parts.append(chunk)
            tail = (tail + chunk)[-8192:]
            if done(tail):
                return b"".join(parts)

    def command(self, text, keep=True):
        """Sends text; returns (status, response bytes, seconds): status is
        the tagged line (b"OK ...", b"NO ...")."""
        self.n += 1
        tag = b"B%d" % self.n
        marker = b"\r\n" + tag + b" "

        def done(tail):
            if not tail.endswith(b"\r\n"):
                return False
            i = tail.rfind(marker, 0, len(tail) - 2)
            return i >= 0 and tail.find(b"\r\n", i + 2) == len(tail) - 2

        t0 = time.perf_counter()
        self.sock.sendall(tag + b" " + text.encode() + b"\r\n")
        data = self._read_until(lambda tail: done(b"\r\n" + tail))
        t1 = time.perf_counter()
        i = data.rfind(b"\r\n" + tag + b" ", 0, len(data) - 2)
        status = data[i + len(tag) + 3:].strip() if i >= 0 else data[len(tag) + 1:].strip()
        return status, (data if keep else b""), t1 - t0

    def ok(self, text, keep=True):
        status, data, secs = self.command(text, keep)
        if not status.startswith(b"OK"):
            raise RuntimeError("IMAP %s: %s" % (text[:60], status.decode("utf-8", "replace")))
        return data, secs

    def login(self, name, password=PASSWORD):
        self.ok('LOGIN "%s" "%s"' % (name, password))

    def close(self):
        try:
            self.command("LOGOUT", keep=False)
        except (OSError, RuntimeError):
            pass
        self.sock.close()


IMAPLOAD = os.path.join(ROOT, "build", "bench", "tern-imapload")


def imapload(mode, *args, timeout=900):
    r = subprocess.run([IMAPLOAD, mode] + [str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    if r.stderr.strip():
        for line in r.stderr.strip().splitlines()[:10]:
            say("tern-imapload:", line)
    return parse_result(r.stdout)


def imap_tern(work, extra="", services=("imap", "imaps", "smtp")):
    """A Tern with IMAP listeners, or None (said) when this build does not
    serve IMAP yet: the IMAP benchmarks then measure Dovecot alone."""
    if os.environ.get("ONLY") == "dovecot":
        return None
    tern = Tern(work, extra=extra, services=list(services))
    tern.start(wait_for=["smtp"])
    if not tern.serves("imap") or ("imaps" in tern.ports and not tern.serves("imaps")):
        say("this Tern does not serve IMAP yet (nothing on its [listen] imap port): measuring Dovecot alone")
        tern.stop()
        return None
    tern.stop()
    return tern
