"""A private, real Postfix (Debian's `postfix` package) for tests and
benchmarks: its own config_directory, queue_directory and data_directory
in a temporary directory, run with `postfix -c DIR/etc start` and `stop`.
No system Postfix is used or touched, and several instances can run at
once (each on its own host:port, with its own queue and master lock).
Must run as root: Postfix's master starts as root and its daemons drop
to mail_owner (postfix).

Two ways to use it, which can be combined:

- a destination: `domains` are virtual mailbox domains, `mailboxes` the
  addresses that exist in them (any other address there gets Postfix's
  "550 5.1.1 ... User unknown in virtual mailbox table"), and every
  accepted message lands as a Maildir file under DIR/mail that
  messages(address) reads back.  With a certificate Postfix offers
  STARTTLS (smtpd_tls_security_level = may) and says so in its Received
  header (smtpd_tls_received_header = yes);
- a relay: relayhost = [host]:port, or transport = {domain: "[host]:port"}
  (transport_maps), and mynetworks = 127.0.0.0/8 so that loopback
  clients may relay.

    pf = Postfix("127.0.0.6", 2525, domains=["postfix.example"],
                 mailboxes=["someone@postfix.example"], cert=c, key=k).start()
    pf.messages("someone@postfix.example")   # [bytes, ...], oldest first
    pf.stop(); pf.cleanup()

Standard library only, so that bench/ can use it as it is."""

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

POSTFIX = "/usr/sbin/postfix"

# master.cf: the services a queue-and-deliver Postfix needs, none chrooted
# (the chroot would need copies of /etc files inside the temp dir).
SERVICES = [
    "pickup unix n - n 60 1 pickup",
    "cleanup unix n - n - 0 cleanup",
    "qmgr unix n - n 300 1 qmgr",
    "tlsmgr unix - - n 1000? 1 tlsmgr",
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
    "virtual unix - n n - - virtual",
    "lmtp unix - - n - - lmtp",
    "anvil unix - - n - 1 anvil",
    "scache unix - - n - 1 scache",
    "postlog unix-dgram n - n - 1 postlogd",
]


def available():
    """True if Debian's postfix package is installed (the binary exists)."""
    return os.path.exists(POSTFIX)


class Postfix:
    """One private Postfix instance listening on host:port (see the module
    comment).  extra: more main.cf lines, appended (later lines win)."""

    def __init__(self, host, port, domains=(), mailboxes=(), relayhost=None, transport=None,
                 cert=None, key=None, hostname=None, extra="", parent=None, name="postfix"):
        self.host, self.port = host, port
        self.dir = tempfile.mkdtemp(prefix="tern-%s-" % name, dir=parent)
        os.chmod(self.dir, 0o755)   # postfix and the virtual mailbox owner reach inside
        self.etc = os.path.join(self.dir, "etc")
        self.spool = os.path.join(self.dir, "spool")
        self.data = os.path.join(self.dir, "data")
        self.mail = os.path.join(self.dir, "mail")
        self.log_path = os.path.join(self.dir, "postfix.log")
        for d in (self.etc, self.spool, self.data, self.mail):
            os.makedirs(d, exist_ok=True)
        pw = pwd.getpwnam("postfix")
        os.chown(self.data, pw.pw_uid, pw.pw_gid)
        # virtual(8) delivers as this user: it must own the mailbox base
        owner = pwd.getpwnam("nobody")
        os.chown(self.mail, owner.pw_uid, owner.pw_gid)
        self.started = False

        lines = [
            "# Private Postfix made by tests/e2e/postfix.py",
            "compatibility_level = 3.6",
            "queue_directory = " + self.spool,
            "data_directory = " + self.data,
            "mail_owner = postfix",
            "setgid_group = postdrop",
            "myhostname = " + (hostname or "mx.postfix.example"),
            "mydomain = postfix.example",
            "myorigin = $myhostname",
            "mydestination =",
            "local_recipient_maps =",
            "local_transport = error:5.1.1 no local delivery here",
            "alias_maps =",
            "alias_database =",
            # master.cf binds host:port itself; inet_interfaces must name
            # an interface address (127.0.0.6 is not one), and with one
            # address it is also what the SMTP client binds to
            "inet_interfaces = loopback-only",
            "inet_protocols = ipv4",
            "biff = no",
            "append_dot_mydomain = no",
            "smtputf8_enable = no",
            "maillog_file = " + self.log_path,
            "maillog_file_prefixes = " + self.dir,
            # never a second look at the system's DNS for made-up names
            "smtp_dns_support_level = disabled" if relayhost or transport else "",
        ]
        if relayhost or transport:
            lines += ["mynetworks = 127.0.0.0/8"]
        else:
            lines += ["mynetworks = %s/32" % host]
        if relayhost:
            lines += ["relayhost = " + relayhost]
        if transport:
            path = os.path.join(self.etc, "transport")
            with open(path, "w") as f:
                for dom, nexthop in transport.items():
                    f.write("%s smtp:%s\n" % (dom, nexthop))
            lines += ["transport_maps = texthash:" + path]
        if domains:
            vmap = os.path.join(self.etc, "vmailbox")
            with open(vmap, "w") as f:
                for a in mailboxes:
                    local, dom = a.split("@", 1)
                    f.write("%s %s/%s/\n" % (a, dom, local))   # trailing slash: Maildir
            lines += ["virtual_mailbox_domains = " + " ".join(domains),
                      "virtual_mailbox_base = " + self.mail,
                      "virtual_mailbox_maps = texthash:" + vmap,
                      "virtual_minimum_uid = 1",
                      "virtual_uid_maps = static:%d" % owner.pw_uid,
                      "virtual_gid_maps = static:%d" % owner.pw_gid]
        if cert:
            lines += ["smtpd_tls_security_level = may",
                      "smtpd_tls_cert_file = " + cert,
                      "smtpd_tls_key_file = " + key,
                      "smtpd_tls_received_header = yes",
                      "smtpd_tls_loglevel = 1"]
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write("\n".join(l for l in lines if l) + "\n" + extra + "\n")
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write("%s:%d inet n - n - - smtpd\n" % (host, port))
            f.write("\n".join(SERVICES) + "\n")

    # ---- commands

    def postfix(self, *args, check=True):
        """Runs `postfix -c DIR/etc ARGS`.  The master daemonizes: its
        output goes to a file, so that it holds no pipe of ours."""
        return self._run(["postfix", "-c", self.etc] + list(args), check)

    def postsuper(self, *args, input=None, check=True):
        return self._run(["postsuper", "-c", self.etc] + list(args), check, input)

    def postqueue(self, *args, check=True):
        return self._run(["postqueue", "-c", self.etc] + list(args), check)

    def _run(self, argv, check, input=None):
        with open(os.path.join(self.dir, "cmd.out"), "w+") as out:
            r = subprocess.run(argv, input=input, stdout=out, stderr=subprocess.STDOUT,
                               stdin=None if input is not None else subprocess.DEVNULL,
                               text=True)
            out.seek(0)
            r.stdout = out.read()
        if check and r.returncode != 0:
            raise RuntimeError("%s failed: %s%s" % (" ".join(argv), r.stdout, self.tail()))
        return r

    # ---- life cycle

    def start(self, timeout=20):
        self.postfix("check")   # creates the queue's subdirectories
        self.postfix("start")
        self.started = True
        deadline = time.time() + timeout
        while True:
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
                return self
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError("postfix does not listen on %s:%d: %s" % (self.host, self.port, self.tail()))
                time.sleep(0.05)

    def master_pid(self):
        try:
            with open(os.path.join(self.spool, "pid", "master.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def stop(self, timeout=20):
        if not self.started:
            return
        pid = self.master_pid()
        self.postfix("stop", check=False)
        deadline = time.time() + timeout
        while pid and time.time() < deadline and os.path.exists("/proc/%d" % pid):
            time.sleep(0.05)
        self.started = False

    def cleanup(self):
        self.stop()
        if os.environ.get("KEEP"):
            return
        shutil.rmtree(self.dir, ignore_errors=True)

    # ---- what it holds

    def maildir(self, address):
        local, dom = address.split("@", 1)
        return os.path.join(self.mail, dom, local)

    def messages(self, address):
        """The messages delivered to address (new/ and cur/), oldest first,
        as bytes with the LF line ends Postfix stores."""
        files = []
        for sub in ("new", "cur"):
            d = os.path.join(self.maildir(address), sub)
            try:
                files += [os.path.join(d, n) for n in os.listdir(d)]
            except FileNotFoundError:
                pass
        files.sort(key=lambda p: (os.stat(p).st_mtime, p))
        out = []
        for p in files:
            with open(p, "rb") as f:
                out.append(f.read())
        return out

    def queue_size(self):
        """Files in the queue (incoming, active, deferred, maildrop, hold)."""
        n = 0
        for sub in ("incoming", "active", "deferred", "maildrop", "hold"):
            for _, _, files in os.walk(os.path.join(self.spool, sub)):
                n += len(files)
        return n

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def tail(self, n=30):
        return "\n".join(self.log().splitlines()[-n:])
