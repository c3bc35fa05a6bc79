#!/usr/bin/python3
"""tern import maildir against a Maildir written by the reference Dovecot:
Dovecot (Debian's dovecot-core, -imapd, -pop3d) is started here with its
own config, filled through its IMAP (APPEND, flags, a keyword, a folder
with hierarchy, a subscription, an expunge that leaves a UID gap), read
back through IMAP and POP3, stopped; its Maildir is imported into Tern,
which must then show the same UIDVALIDITY, UIDs, flags, keywords,
internal dates, bodies and subscriptions over IMAP and the same UIDLs
over POP3.  A second import adds nothing."""
import imaplib
import os
import poplib
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PASSWORD, TERN, Server, Suite, free_ports, stop_and_check  # noqa: E402

USER = "user@example.test"
DOVECOT_USER = "user"


class Dovecot:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tern-dovecot-")
        os.chmod(self.dir, 0o755)
        self.mail = os.path.join(self.dir, "mail")
        os.makedirs(self.mail)
        self.imap, self.pop3 = free_ports(2)
        self.conf = os.path.join(self.dir, "dovecot.conf")
        root = os.geteuid() == 0
        if root:
            shutil.chown(self.mail, "mail", "mail")
            owner = "uid=mail gid=mail"
        else:
            owner = "uid=%d gid=%d" % (os.getuid(), os.getgid())
        with open(os.path.join(self.dir, "users"), "w") as f:
            f.write("%s:{PLAIN}%s::::::\n" % (DOVECOT_USER, PASSWORD))
        users = "" if root else "default_internal_user = %s\ndefault_login_user = %s\n" % (
            os.environ.get("USER", "nobody"), os.environ.get("USER", "nobody"))
        with open(self.conf, "w") as f:
            f.write("""base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = 1
{users}mail_location = maildir:{mail}/%u
pop3_uidl_format = %08Xu%08Xv
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {d}/users
}}
userdb {{
  driver = static
  args = {owner} home={mail}/%u allow_all_users=yes
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
""".format(d=self.dir, mail=self.mail, users=users, owner=owner, imap=self.imap, pop3=self.pop3))

    def start(self):
        # Dovecot daemonizes: its children must not inherit a pipe of ours
        with open(os.path.join(self.dir, "start.err"), "w+") as err:
            r = subprocess.run(["dovecot", "-c", self.conf], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=err)
            if r.returncode != 0:
                err.seek(0)
                raise AssertionError("dovecot failed to start: " + err.read() + self.tail())
        deadline = time.time() + 15
        for port in (self.imap, self.pop3):
            while True:
                try:
                    imaplib.socket.create_connection(("127.0.0.1", port), 1).close()
                    break
                except OSError:
                    if time.time() > deadline:
                        raise AssertionError("dovecot not listening: " + self.tail())
                    time.sleep(0.05)
        return self

    def stop(self):
        subprocess.run(["dovecot", "-c", self.conf, "stop"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pidfile = os.path.join(self.dir, "run", "master.pid")
        deadline = time.time() + 20
        while os.path.exists(pidfile) and time.time() < deadline:
            time.sleep(0.05)

    def tail(self):
        try:
            with open(os.path.join(self.dir, "dovecot.log")) as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def message(i, subject):
    # LF-only lines in the Maildir, CRLF over IMAP: Tern must match the latter
    return ("From: Sender %d <sender%d@example.org>\r\n"
            "To: user@example.test\r\n"
            "Subject: %s\r\n"
            "Message-ID: <%d.import@example.org>\r\n"
            "Date: Mon, 7 Dec 2026 10:%02d:00 +0100\r\n"
            "\r\n"
            "Body of message %d.\r\nSecond line.\r\n" % (i, i, subject, i, i, i)).encode()


def snapshot(imap, mailbox):
    """UIDVALIDITY and {uid: (flags, internaldate, body)} of mailbox."""
    typ, _ = imap.select('"%s"' % mailbox)
    assert typ == "OK", mailbox
    uidvalidity = int(imap.untagged_responses["UIDVALIDITY"][-1])
    typ, data = imap.uid("FETCH", "1:*", "(UID FLAGS INTERNALDATE BODY.PEEK[])")
    assert typ == "OK", data
    msgs = {}
    for item in data:
        if not isinstance(item, tuple):
            continue
        head, body = item
        head = head.decode()
        uid = int(re.search(r"UID (\d+)", head).group(1))
        flags = set(re.search(r"FLAGS \(([^)]*)\)", head).group(1).split()) - {"\\Recent"}
        date = re.search(r'INTERNALDATE "([^"]+)"', head).group(1)
        msgs[uid] = (flags, imaplib.Internaldate2tuple(('INTERNALDATE "%s"' % date).encode()), body)
    return uidvalidity, msgs


def subscribed(imap):
    typ, data = imap.lsub('""', "*")
    assert typ == "OK"
    return {re.search(rb'"([^"]*)"$|(\S+)$', d).group(0).strip(b'"').decode() for d in data if d}


def uidls(port, user):
    pop = poplib.POP3("127.0.0.1", port, timeout=10)
    pop.user(user)
    pop.pass_(PASSWORD)
    _, lines, _ = pop.uidl()
    pop.quit()
    return [line.decode().split()[1] for line in lines]


def fill_dovecot(dc):
    imap = imaplib.IMAP4("127.0.0.1", dc.imap)
    imap.login(DOVECOT_USER, PASSWORD)
    assert imap.create("Work/Reports")[0] == "OK"
    assert imap.subscribe("Work/Reports")[0] == "OK"
    t0 = time.mktime((2025, 3, 4, 5, 6, 7, 0, 0, -1))
    for i in range(1, 6):
        assert imap.append("INBOX", None, t0 + i * 3600, message(i, "inbox %d" % i))[0] == "OK"
    for i in range(6, 9):
        assert imap.append("Work/Reports", None, t0 + i * 3600, message(i, "report %d" % i))[0] == "OK"
    imap.select("INBOX")
    imap.uid("STORE", "1", "+FLAGS", "(\\Seen)")
    imap.uid("STORE", "2", "+FLAGS", "(\\Flagged $Label1)")
    imap.uid("STORE", "4", "+FLAGS", "(\\Answered \\Seen)")
    imap.uid("STORE", "3", "+FLAGS", "(\\Deleted)")
    imap.expunge()
    imap.select('"Work/Reports"')
    imap.uid("STORE", "2", "+FLAGS", "(\\Seen $Label1)")
    want = {"INBOX": snapshot(imap, "INBOX"), "Work/Reports": snapshot(imap, "Work/Reports")}
    subs = subscribed(imap)
    imap.logout()
    return want, subs


suite = Suite()


@suite.case
def import_keeps_uids_flags_dates_bodies_and_uidls(fx):
    srv, dc = fx
    want, subs = fill_dovecot(dc)
    assert sorted(want["INBOX"][1]) == [1, 2, 4, 5], want["INBOX"][1].keys()
    assert "$Label1" in want["INBOX"][1][2][0]
    dovecot_uidls = uidls(dc.pop3, DOVECOT_USER)
    assert len(dovecot_uidls) == 4
    dc.stop()

    maildir = os.path.join(dc.mail, DOVECOT_USER)
    r = srv.cli("import", "maildir", USER, maildir, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "total: 7 added, 0 already there" in r.stdout, r.stdout

    imap = imaplib.IMAP4("127.0.0.1", srv.port("imap"))
    imap.login(USER, PASSWORD)
    for mailbox, (uidvalidity, msgs) in want.items():
        got_uv, got = snapshot(imap, mailbox)
        assert got_uv == uidvalidity, (mailbox, got_uv, uidvalidity)
        assert sorted(got) == sorted(msgs), (mailbox, sorted(got), sorted(msgs))
        for uid, (flags, date, body) in msgs.items():
            assert got[uid][0] == flags, (mailbox, uid, got[uid][0], flags)
            assert got[uid][1] == date, (mailbox, uid, got[uid][1], date)
            assert got[uid][2] == body, (mailbox, uid)
    # UIDNEXT at least Dovecot's (the expunged UID 3 is not reused below it)
    typ, data = imap.status("INBOX", "(UIDNEXT)")
    assert int(re.search(rb"UIDNEXT (\d+)", data[0]).group(1)) >= 6, data
    got_subs = subscribed(imap)
    assert subs <= got_subs, (subs, got_subs)
    assert "Work/Reports" in got_subs, got_subs
    imap.logout()

    got_uidls = uidls(srv.port("pop3"), USER)
    assert got_uidls == dovecot_uidls, (got_uidls, dovecot_uidls)

    # idempotent
    r = srv.cli("import", "maildir", USER, maildir, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "total: 0 added, 7 already there" in r.stdout, r.stdout
    imap = imaplib.IMAP4("127.0.0.1", srv.port("imap"))
    imap.login(USER, PASSWORD)
    assert sorted(snapshot(imap, "INBOX")[1]) == [1, 2, 4, 5]
    imap.logout()


@suite.case
def large_folder_in_several_batches(fx):
    """A folder of more messages than one import transaction holds (64):
    every message comes over with its UID, UIDNEXT ends at Dovecot's, and
    a second run adds nothing.  (Each batch raised UIDNEXT to the folder's
    end, so only the first 64 were imported and the rest reported as
    already there.)"""
    srv, dc = fx
    imap = imaplib.IMAP4("127.0.0.1", dc.imap)
    imap.login(DOVECOT_USER, PASSWORD)
    for i in range(1, 151):
        assert imap.append("INBOX", None, None, message(i, "bulk %d" % i))[0] == "OK"
    imap.select("INBOX")
    imap.uid("STORE", "150", "+FLAGS", "(\\Deleted)")
    imap.expunge()
    uidvalidity, want = snapshot(imap, "INBOX")
    imap.logout()
    assert sorted(want) == list(range(1, 150))
    dc.stop()
    user = "bulk@example.test"
    srv.add_user(user)
    maildir = os.path.join(dc.mail, DOVECOT_USER)
    r = srv.cli("import", "maildir", user, maildir, check=False)
    assert r.returncode == 0 and "INBOX: 149 added, 0 already there" in r.stdout, r.stdout + r.stderr
    imap = imaplib.IMAP4("127.0.0.1", srv.port("imap"))
    imap.login(user, PASSWORD)
    got_uv, got = snapshot(imap, "INBOX")
    assert got_uv == uidvalidity and sorted(got) == sorted(want), (got_uv, sorted(got)[-3:])
    for uid in (1, 64, 65, 149):
        assert got[uid][2] == want[uid][2], uid
    typ, data = imap.status("INBOX", "(UIDNEXT MESSAGES)")
    assert b"UIDNEXT 151" in data[0] and b"MESSAGES 149" in data[0], data
    imap.logout()
    r = srv.cli("import", "maildir", user, maildir, check=False)
    assert r.returncode == 0 and "INBOX: 0 added, 149 already there" in r.stdout, r.stdout + r.stderr


@suite.case
def folder_with_other_uidvalidity_is_left_alone(fx):
    srv, dc = fx
    fill_dovecot(dc)
    dc.stop()
    imap = imaplib.IMAP4("127.0.0.1", srv.port("imap"))
    imap.login(USER, PASSWORD)
    assert imap.create("Work/Reports")[0] == "OK"
    assert imap.append("Work/Reports", None, None, message(99, "mine"))[0] == "OK"
    imap.logout()
    r = srv.cli("import", "maildir", USER, os.path.join(dc.mail, DOVECOT_USER), check=False)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Work/Reports: skipped" in r.stderr and "UIDVALIDITY" in r.stderr, r.stderr
    assert "INBOX: 4 added" in r.stdout, r.stdout


@suite.case
def quota_is_checked(fx):
    srv, dc = fx
    fill_dovecot(dc)
    dc.stop()
    srv.cli("user", "set", USER, "--quota", "1K")
    r = srv.cli("import", "maildir", USER, os.path.join(dc.mail, DOVECOT_USER), check=False)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "over quota" in r.stderr and "--quota" in r.stderr, r.stderr


@suite.case
def other_uidl_formats(fx):
    srv, dc = fx
    fill_dovecot(dc)
    dc.stop()
    with open(dc.conf) as f:
        conf = f.read()
    for n, fmt in enumerate(("%f", "%v.%u")):
        # Dovecot serves this format now: the UIDLs its clients keep
        with open(dc.conf, "w") as f:
            f.write(conf.replace("pop3_uidl_format = %08Xu%08Xv", "pop3_uidl_format = " + fmt))
        dc.start()
        want = uidls(dc.pop3, DOVECOT_USER)
        dc.stop()
        user = "uidl%d@example.test" % n
        srv.add_user(user)
        r = srv.cli("import", "maildir", user, os.path.join(dc.mail, DOVECOT_USER), "--uidl-format", fmt,
                    check=False)
        assert r.returncode == 0, r.stdout + r.stderr
        got = uidls(srv.port("pop3"), user)
        assert got == want and len(got) == 4, (fmt, got, want)
    r = srv.cli("import", "maildir", USER, dc.mail, "--uidl-format", "%m", check=False)
    assert r.returncode == 2 and "--uidl-format" in r.stderr, r.stderr


@suite.case
def progress_line_on_a_terminal(fx):
    import pty
    srv, dc = fx
    fill_dovecot(dc)
    dc.stop()
    master, slave = pty.openpty()
    r = subprocess.run([TERN, "--config", srv.conf, "import", "maildir", USER, os.path.join(dc.mail, DOVECOT_USER)],
                       stdout=subprocess.PIPE, stderr=slave, text=True, timeout=60)
    os.close(slave)
    err = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        err += chunk
    os.close(master)
    assert r.returncode == 0, r.stdout
    assert re.search(rb"\rINBOX: \d+ of 4 messages", err), err
    assert "total: 7 added" in r.stdout, r.stdout


def setup():
    if shutil.which("dovecot") is None or not os.path.exists("/usr/lib/dovecot/imap"):
        raise AssertionError("the reference Dovecot is missing: run scripts/deps.sh")
    srv = Server()
    srv.add_user(USER)
    srv.start()
    dc = Dovecot()
    try:
        dc.start()
    except Exception:
        dc.cleanup()
        srv.cleanup()
        raise
    return srv, dc


def teardown(fx):
    srv, dc = fx
    dc.cleanup()
    stop_and_check(srv)


if __name__ == "__main__":
    suite.run(setup, teardown)
