"""End-to-end tests of `tern backup` and `tern restore`: an online backup
taken while an IMAP client keeps appending is consistent (every row of each
backed-up index has its file), a whole restore into a fresh data_dir gives
back the same mailboxes (UIDVALIDITY, UIDs, flags, bytes), the queue and the
DKIM key, and one user can be restored while the server runs."""

import imaplib
import os
import re
import shutil
import smtplib
import sqlite3
import stat
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PASSWORD, Server, Suite, stop_and_check  # noqa: E402

suite = Suite()
USERS = ("alice@example.test", "carol@example.org")


def imap(srv, user):
    c = imaplib.IMAP4("127.0.0.1", srv.port("imap"))
    c.login(user, PASSWORD)
    return c


def deliver(srv, rcpt, n):
    with smtplib.SMTP("127.0.0.1", srv.port("smtp")) as s:
        for i in range(n):
            s.sendmail("sender@example.net", [rcpt],
                       ("From: sender@example.net\r\nTo: %s\r\nSubject: m%d\r\n\r\nbody %d of %s\r\n"
                        % (rcpt, i, i, rcpt)).encode())


def snapshot(srv, user):
    """{mailbox: (uidvalidity, {uid: (flags, body)})} over IMAP."""
    c = imap(srv, user)
    out = {}
    typ, lst = c.list()
    names = [re.search(rb'(\S+)$', l).group(1).decode().strip('"') for l in lst]
    for name in names:
        typ, d = c.select('"%s"' % name, readonly=True)
        assert typ == "OK", (name, d)
        uidv = c.response("UIDVALIDITY")[1][0]
        msgs = {}
        if int(d[0]) > 0:
            typ, data = c.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
            for item in data:
                if not isinstance(item, tuple):
                    continue
                head = item[0].decode()
                uid = int(re.search(r"UID (\d+)", head).group(1))
                flags = sorted(re.search(r"FLAGS \(([^)]*)\)", head).group(1).split())
                msgs[uid] = (flags, item[1])
        out[name] = (uidv, msgs)
    c.logout()
    return out


def populate(srv):
    for u in USERS:
        deliver(srv, u, 3)
    c = imap(srv, USERS[0])
    c.create("Projects")
    c.select("INBOX")
    c.uid("STORE", "1:2", "+FLAGS", r"(\Seen \Flagged)")
    c.uid("COPY", "2", "Projects")
    c.logout()
    # an outbound message: the relay (127.0.0.1:9) is closed, so it waits
    with smtplib.SMTP("127.0.0.1", srv.port("submission")) as s:
        s.login(USERS[0], PASSWORD)
        s.sendmail(USERS[0], ["someone@faraway.example"], b"From: alice@example.test\r\nTo: someone@faraway.example\r\nSubject: out\r\n\r\nqueued\r\n")
    srv.cli("dkim", "generate", "example.test", "--selector", "s1")


def check_consistent(dest):
    """Every row of every index in the backup names a file there."""
    rows = 0
    for root, dirs, files in os.walk(os.path.join(dest, "mail")):
        if "index.db" not in files:
            continue
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(root, "index.db"), uri=True)
        for (name,) in db.execute("SELECT file FROM messages"):
            rows += 1
            assert os.path.isfile(os.path.join(root, "msg", name)), (root, name)
        db.close()
        assert stat.S_IMODE(os.stat(os.path.join(root, "index.db")).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(os.path.join(root, "msg")).st_mode) == 0o700
    return rows


class Appender(threading.Thread):
    """Appends to bob's INBOX (and expunges every few) until stopped."""

    def __init__(self, srv):
        super().__init__(daemon=True)
        self.srv, self.stop, self.count, self.error = srv, threading.Event(), 0, None

    def run(self):
        try:
            c = imap(self.srv, "bob@example.test")
            c.select("INBOX")
            while not self.stop.is_set():
                msg = b"Subject: load %d\r\n\r\n" % self.count + b"x" * 2000 + b"\r\n"
                typ, d = c.append("INBOX", None, None, msg)
                assert typ == "OK", d
                self.count += 1
                if self.count % 5 == 0:
                    c.uid("STORE", "1:*", "+FLAGS", r"(\Deleted)")
                    c.expunge()
            c.logout()
        except Exception as e:  # reported by the test
            self.error = e


def setup():
    srv = Server()
    for u in USERS + ("bob@example.test",):
        srv.add_user(u)
    return srv.start()


def teardown(srv):
    stop_and_check(srv)


@suite.case
def backup_under_load_and_restore(srv):
    populate(srv)
    before = {u: snapshot(srv, u) for u in USERS}
    app = Appender(srv)
    app.start()
    time.sleep(0.5)
    dests = []
    for i in range(3):
        dest = os.path.join(srv.dir, "backup%d" % i)
        r = srv.cli("backup", dest)
        assert "users=3" in r.stdout and "hard-linked" in r.stdout, r.stdout
        dests.append(dest)
    app.stop.set()
    app.join(30)
    assert app.error is None, app.error
    assert app.count > 5, app.count
    for dest in dests:
        check_consistent(dest)
    dest = dests[-1]
    # a second backup into a non-empty DEST is refused
    r = srv.cli("backup", dest, check=False)
    assert r.returncode != 0 and "not empty" in r.stderr, r.stderr
    # queue, key, modes
    q = os.listdir(os.path.join(dest, "queue"))
    assert any(n.endswith(".eml") for n in q) and any(n.endswith(".env") for n in q), q
    key = os.path.join(dest, "dkim", "example.test", "s1.pem")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.join(dest, "directory.db")).st_mode) == 0o600
    # a whole restore refuses while the server runs
    r = srv.cli("restore", dest, check=False)
    assert r.returncode != 0 and "running" in r.stderr, r.stderr
    queue_before = srv.cli("queue", "list").stdout
    assert "someone@faraway.example" in queue_before, queue_before
    assert srv.stop() == 0
    # into a fresh data_dir
    old_data = srv.data + ".old"
    os.rename(srv.data, old_data)
    r = srv.cli("restore", dest)
    assert "users=3" in r.stdout, r.stdout
    # into a non-empty one: refused without --force
    r = srv.cli("restore", dest, check=False)
    assert r.returncode != 0 and "not empty" in r.stderr, r.stderr
    srv.start()
    for u in USERS:
        after = snapshot(srv, u)
        assert after == before[u], (u, before[u], after)
    assert "someone@faraway.example" in srv.cli("queue", "list").stdout
    with open(key, "rb") as a, open(os.path.join(srv.data, "dkim", "example.test", "s1.pem"), "rb") as b:
        assert a.read() == b.read()
    assert "s1" in srv.cli("dkim", "list").stdout
    # second instance on the same data_dir is refused by the lock
    shutil.rmtree(old_data, ignore_errors=True)


@suite.case
def restore_one_user_while_running(srv):
    populate(srv)
    user = USERS[0]
    before = snapshot(srv, user)
    dest = os.path.join(srv.dir, "one")
    r = srv.cli("backup", dest, "--user", user)
    assert "users=1" in r.stdout and "messages=4" in r.stdout, r.stdout
    assert not os.path.exists(os.path.join(dest, "directory.db"))
    check_consistent(dest)
    # change the mailbox after the backup: new mail, a flag, a deleted folder
    deliver(srv, user, 2)
    c = imap(srv, user)
    c.select("INBOX")
    c.uid("STORE", "1", "-FLAGS", r"(\Seen)")
    c.select("INBOX")
    c.delete("Projects")
    c.logout()
    assert snapshot(srv, user) != before
    r = srv.cli("restore", dest, "--user", user)
    assert "users=1" in r.stdout and "replaced folder" in r.stdout, r.stdout
    assert snapshot(srv, user) == before
    # deliveries after the restore land in the restored folder
    deliver(srv, user, 1)
    c = imap(srv, user)
    typ, d = c.select("INBOX")
    assert int(d[0]) == 4, d
    c.logout()
    # other users are untouched
    assert len(snapshot(srv, USERS[1])["INBOX"][1]) == 3


@suite.case
def second_server_refused(srv):
    """Two servers on one data_dir: the second stops at tern.lock."""
    import subprocess
    from harness import TERN, free_ports
    with open(srv.conf) as f:
        conf = f.read()
    for old, new in zip(srv.ports.values(), free_ports(len(srv.ports))):
        conf = conf.replace(":%d\n" % old, ":%d\n" % new)
    other = os.path.join(srv.dir, "other.conf")
    with open(other, "w") as f:
        f.write(conf)
    p = subprocess.run([TERN, "serve", "--config", other], capture_output=True, text=True, timeout=30)
    assert p.returncode != 0, p.stderr
    assert "tern.lock" in p.stderr, p.stderr


if __name__ == "__main__":
    suite.run(setup, teardown)
