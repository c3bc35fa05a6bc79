"""End-to-end tests of data-file ownership (issue 13): tern commands run as
root create and keep directory.db (and its -wal and -shm) owned by
[server] user with mode 0600, and the server, started as root with
[server] user = nobody, can write what they made (it records an app
password's use).  When it finds data it cannot write, it says so at start
in one line and stops.  Needs root (CI runs as root): skipped otherwise."""

import imaplib
import os
import pwd
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import TERN, Suite  # noqa: E402
from mailcheck import HOST, case, setup, teardown_all  # noqa: E402

suite = Suite()
t = case(suite)

SHOWN = re.compile(r"^password: ([a-z]{4} [a-z]{4} [a-z]{4} [a-z]{4})$", re.M)
DB_FILES = ("directory.db", "directory.db-wal", "directory.db-shm")


def as_nobody(srv):
    """srv's config with [server] user = nobody; its folder open to nobody."""
    with open(srv.conf) as fp:
        text = fp.read()
    with open(srv.conf, "w") as fp:
        fp.write(text.replace("[server]\n", "[server]\nuser = nobody\n", 1))
    os.chmod(srv.dir, 0o755)


def assert_owned(srv, uid):
    st = os.stat(srv.data)
    assert st.st_uid == uid and st.st_mode & 0o777 == 0o700, "data_dir uid %d mode %o" % (
        st.st_uid, st.st_mode & 0o777)
    seen = 0
    for name in DB_FILES:
        path = os.path.join(srv.data, name)
        if not os.path.exists(path):
            continue
        seen += 1
        st = os.stat(path)
        assert st.st_uid == uid, "%s owned by uid %d, not %d" % (name, st.st_uid, uid)
        assert st.st_mode & 0o777 == 0o600, "%s mode %o" % (name, st.st_mode & 0o777)
    assert seen > 0


@t
def cli_as_root_gives_data_to_server_user(f):
    if os.geteuid() != 0:
        print("# skipped: cli_as_root_gives_data_to_server_user: not root")
        return
    nobody = pwd.getpwnam("nobody").pw_uid
    srv = f.bare()
    # what an older tern made: root's, 0644
    db = os.path.join(srv.data, "directory.db")
    os.chmod(db, 0o644)
    as_nobody(srv)
    srv.cli("domain", "list")
    assert_owned(srv, nobody)
    srv.add_user("alice@example.test")
    assert_owned(srv, nobody)
    r = srv.cli("user", "app-password", "add", "alice@example.test", "mailer", "--protocols", "imap")
    shown = SHOWN.search(r.stdout).group(1)
    os.makedirs(os.path.join(srv.data, "mail", "example.test", "alice", "msg"))
    r = srv.cli("user", "del", "alice@example.test", "--keep-mail", input="", check=False)
    assert r.returncode == 0, r.stderr
    deleted = os.stat(os.path.join(srv.data, "deleted"))
    assert deleted.st_uid == nobody and deleted.st_mode & 0o777 == 0o700
    srv.add_user("alice@example.test")
    r = srv.cli("user", "app-password", "add", "alice@example.test", "mailer", "--protocols", "imap")
    shown = SHOWN.search(r.stdout).group(1)
    assert_owned(srv, nobody)

    # the server, started as root, runs as nobody and records the use
    srv.start()
    log = open(srv.log_path).read()
    assert "privileges dropped user=nobody" in log, log[-2000:]
    m = imaplib.IMAP4(HOST, srv.port("imap"))
    m.login("alice@example.test", shown)
    m.logout()
    last = None
    for _ in range(50):
        r = srv.cli("user", "app-password", "list", "alice@example.test")
        row = [l.split() for l in r.stdout.splitlines() if l.startswith("mailer")][0]
        last = row
        if row[3] != "never":
            break
        time.sleep(0.1)
    assert last[3] != "never", (last, srv.tail())
    assert "readonly" not in open(srv.log_path).read()
    assert_owned(srv, nobody)
    srv.stop()


@t
def server_says_what_it_cannot_write(f):
    if os.geteuid() != 0:
        print("# skipped: server_says_what_it_cannot_write: not root")
        return
    srv = f.bare()
    as_nobody(srv)
    srv.add_user("alice@example.test")
    db = os.path.join(srv.data, "directory.db")
    os.chown(db, 0, 0)   # as a copy restored by root would be
    r = subprocess.run([TERN, "--config", srv.conf, "serve"], capture_output=True, text=True, timeout=60)
    assert r.returncode > 0, "started with a directory.db it cannot write"
    lines = [l for l in r.stderr.splitlines() if "cannot be written" in l]
    assert len(lines) == 1, r.stderr
    assert db in lines[0] and "nobody" in lines[0] and "chown -R nobody " + srv.data in lines[0], lines[0]
    # any tern command run as root puts it right
    srv.cli("domain", "list")
    assert_owned(srv, pwd.getpwnam("nobody").pw_uid)


suite.run(setup, teardown_all)
