"""End-to-end tests of `tern user app-password add|list|revoke`, `tern user
set --reject-mail` and what `tern user show|list` print (issue 4), plus the
upgrade of a directory made by tern 0.1 (schema version 1).

Logging in with an app password is not wired into the protocols yet: these
tests check the stored hash against the printed password directly."""

import os
import re
import sqlite3
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import DIRECTORY, PASSWORD, Suite  # noqa: E402
from mailcheck import case, deliver, expect_smtp_error, message, pop3_count, setup, teardown_all  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import crypt  # deprecated in 3.11, gone in 3.13: the hash check is skipped then
    except ImportError:
        crypt = None

suite = Suite()
t = case(suite)

SHOWN = re.compile(r"^password: ([a-z]{4} [a-z]{4} [a-z]{4} [a-z]{4})$", re.M)

# The version-1 schema exactly as tern 0.1 wrote it.
SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS domains (  name TEXT PRIMARY KEY NOT NULL);
CREATE TABLE IF NOT EXISTS users (  address TEXT PRIMARY KEY NOT NULL,
  domain TEXT NOT NULL REFERENCES domains(name),  password_hash TEXT NOT NULL,
  role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
  pop3 INTEGER NOT NULL DEFAULT 1,  imap INTEGER NOT NULL DEFAULT 1,
  submission INTEGER NOT NULL DEFAULT 1,  disabled INTEGER NOT NULL DEFAULT 0,
  quota_bytes INTEGER NOT NULL DEFAULT 0,  created INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS users_domain ON users(domain);
CREATE TABLE IF NOT EXISTS aliases (  alias TEXT NOT NULL,  target TEXT NOT NULL,
  domain TEXT NOT NULL REFERENCES domains(name),  PRIMARY KEY (alias, target));
CREATE INDEX IF NOT EXISTS aliases_domain ON aliases(domain);
"""


def ok(r):
    assert r.returncode == 0, "exit %d\nstdout: %s\nstderr: %s" % (r.returncode, r.stdout, r.stderr)
    assert "AddressSanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr
    return r


def fails(r, status=1, needle=None):
    assert r.returncode == status, "exit %d (wanted %d)\nstdout: %s\nstderr: %s" % (
        r.returncode, status, r.stdout, r.stderr)
    assert r.stderr.strip(), "no message on stderr"
    assert "AddressSanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr
    if needle is not None:
        assert needle in r.stderr, (needle, r.stderr)
    return r


def db(srv):
    return srv.db()


def stored_hash(srv, address, name):
    with db(srv) as c:
        row = c.execute("SELECT hash FROM app_passwords WHERE address = ? AND name = ?", (address, name)).fetchone()
    return row[0] if row else None


def add(srv, address, name, *opts):
    r = ok(srv.cli("user", "app-password", "add", address, name, *opts, check=False))
    m = SHOWN.search(r.stdout)
    assert m, r.stdout
    return m.group(1), r


def show(srv, address):
    r = ok(srv.cli("user", "show", address, check=False))
    return dict(line.split(": ", 1) for line in r.stdout.strip().splitlines())


def list_rows(srv, address):
    r = ok(srv.cli("user", "app-password", "list", address, check=False))
    lines = r.stdout.strip().splitlines()
    if lines and lines[0].startswith("no app passwords"):
        return []
    assert lines[0].split()[:2] == ["NAME", "PROTOCOLS"], r.stdout
    return [line.split() for line in lines[1:]]


@t
def help_texts(f):
    srv = f.bare()
    for cmd in (["app-password"], ["app-password", "add"], ["app-password", "list"], ["app-password", "revoke"]):
        for flag in ("--help", "-h"):
            r = ok(srv.cli("user", *cmd, flag, check=False))
            assert "usage: tern user app-password add" in r.stdout, r.stdout
    r = ok(srv.cli("user", "--help", check=False))
    assert "app-password" in r.stdout and "--reject-mail" in r.stdout, r.stdout
    fails(srv.cli("user", "app-password", check=False), 2)
    fails(srv.cli("user", "app-password", "frobnicate", check=False), 2)
    fails(srv.cli("user", "app-password", "add", "alice@example.test", check=False), 2)
    fails(srv.cli("user", "app-password", "add", "a@example.test", "x", "extra", check=False), 2)
    fails(srv.cli("user", "app-password", "list", check=False), 2)
    fails(srv.cli("user", "app-password", "revoke", "alice@example.test", check=False), 2)


@t
def add_list_revoke(f):
    srv = f.std(start=False)
    shown, r = add(srv, "Alice@Example.test", "phone", "--protocols", "imap,smtp")
    assert 'app password "phone" added for alice@example.test (imap,submission)' in r.stdout, r.stdout
    assert r.stdout.count(shown) == 1
    # only a hash is stored, and it is the hash of the printed password
    # (spaces dropped: they are only there to help reading it)
    h = stored_hash(srv, "alice@example.test", "phone")
    assert h.startswith("$y$"), h
    if srv.dsn:
        with db(srv) as c:
            stored = repr(c.execute("SELECT * FROM app_passwords").fetchall())
    else:
        stored = open(os.path.join(srv.data, "directory.db"), "rb").read().decode("latin-1")
    assert shown.replace(" ", "") not in stored
    if crypt is not None:
        assert crypt.crypt(shown.replace(" ", ""), h) == h
        assert crypt.crypt(shown, h) != h
    shown2, _ = add(srv, "alice@example.test", "laptop")
    assert shown2 != shown
    rows = list_rows(srv, "alice@example.test")
    assert [r[0] for r in rows] == ["phone", "laptop"], rows
    assert rows[0][1] == "imap,submission" and rows[1][1] == "imap,pop3,submission", rows
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", rows[0][2]), rows
    assert rows[0][3:] == ["never", "-"], rows
    assert show(srv, "alice@example.test")["app-passwords"] == "2"
    assert show(srv, "bob@example.test")["app-passwords"] == "0"
    r = ok(srv.cli("user", "app-password", "list", "bob@example.test", check=False))
    assert "no app passwords for bob@example.test" in r.stdout, r.stdout

    # every protocol spelling; names are per user and compare without case
    # one vocabulary printed (user set's --submission), smtp accepted too
    for protos, want in (("pop3", "pop3"), ("submission", "submission"), ("ALL", "imap,pop3,submission"),
                         ("smtp,imap", "imap,submission")):
        _, r = add(srv, "bob@example.test", "p-" + protos.replace(",", "_").lower(), "--protocols", protos)
        assert "(%s)" % want in r.stdout, (protos, r.stdout)
    add(srv, "bob@example.test", "phone")
    fails(srv.cli("user", "app-password", "add", "alice@example.test", "PHONE", check=False), 1,
          "already has an app password")
    assert show(srv, "alice@example.test")["app-passwords"] == "2"

    # revoke in any case; the other stays; bob's "phone" stays
    r = ok(srv.cli("user", "app-password", "revoke", "alice@example.test", "Phone", check=False))
    assert "revoked" in r.stdout
    assert [r[0] for r in list_rows(srv, "alice@example.test")] == ["laptop"]
    assert stored_hash(srv, "alice@example.test", "phone") is None
    assert "phone" in [r[0] for r in list_rows(srv, "bob@example.test")]
    fails(srv.cli("user", "app-password", "revoke", "alice@example.test", "phone", check=False), 1,
          "no app password called")


@t
def bad_input(f):
    srv = f.std(start=False)
    for name in ("my phone", "-x", "a" * 33, "caf\u00e9", "a/b", ""):
        # "--": "-x" is a name here, not an option
        r = fails(srv.cli("user", "app-password", "add", "alice@example.test", "--", name, check=False), 2,
                  "bad name")
        assert "password:" not in r.stdout
    for protos in ("imap,", "ftp", "", "imap,,pop3"):
        fails(srv.cli("user", "app-password", "add", "alice@example.test", "x", "--protocols", protos, check=False),
              2, "--protocols")
    # no password is printed for a user that does not exist
    r = fails(srv.cli("user", "app-password", "add", "ghost@example.test", "x", check=False), 1, "no such user")
    assert "password:" not in r.stdout
    fails(srv.cli("user", "app-password", "add", "not-an-address", "x", check=False), 1, "invalid address")
    fails(srv.cli("user", "app-password", "list", "ghost@example.test", check=False), 1, "no such user")
    fails(srv.cli("user", "app-password", "revoke", "ghost@example.test", "x", check=False), 1, "no such user")
    add(srv, "alice@example.test", "a" * 32)


@t
def limit_and_user_deletion(f):
    srv = f.std(start=False)
    for i in range(32):
        add(srv, "alice@example.test", "client%d" % i)
    fails(srv.cli("user", "app-password", "add", "alice@example.test", "one-more", check=False), 1,
          "the most allowed")
    assert len(list_rows(srv, "alice@example.test")) == 32
    add(srv, "bob@example.test", "one-more")   # the limit is per user
    ok(srv.cli("user", "app-password", "revoke", "alice@example.test", "client5", check=False))
    add(srv, "alice@example.test", "one-more")

    # deleting the user deletes its app passwords; a new user of the same
    # name starts with none
    ok(srv.cli("user", "del", "alice@example.test", "--yes", check=False))
    with db(srv) as c:
        assert c.execute("SELECT count(*) FROM app_passwords WHERE address = 'alice@example.test'").fetchone()[0] == 0
        assert c.execute("SELECT count(*) FROM app_passwords").fetchone()[0] == 1
    srv.add_user("alice@example.test")
    assert show(srv, "alice@example.test")["app-passwords"] == "0"
    assert list_rows(srv, "alice@example.test") == []


@t
def switches_shown_and_set(f):
    srv = f.std(start=False)
    s = show(srv, "alice@example.test")
    assert (s["imap"], s["pop3"], s["submission"], s["disabled"], s["reject-mail"]) == ("on", "on", "on", "no", "off"), s
    ok(srv.cli("user", "set", "alice@example.test", "--imap", "off", "--pop3", "off", "--submission", "off",
               "--disabled", "--reject-mail", "on", check=False))
    s = show(srv, "alice@example.test")
    assert (s["imap"], s["pop3"], s["submission"], s["disabled"], s["reject-mail"]) == ("off", "off", "off", "yes",
                                                                                       "on"), s
    r = ok(srv.cli("user", "list", check=False))
    assert "alice@example.test disabled reject-mail" in r.stdout, r.stdout
    # only what is named changes
    ok(srv.cli("user", "set", "alice@example.test", "--enabled", "--pop3", "on", check=False))
    s = show(srv, "alice@example.test")
    assert (s["imap"], s["pop3"], s["submission"], s["disabled"], s["reject-mail"]) == ("off", "on", "off", "no",
                                                                                       "on"), s
    ok(srv.cli("user", "set", "alice@example.test", "--reject-mail", "off", check=False))
    assert show(srv, "alice@example.test")["reject-mail"] == "off"
    fails(srv.cli("user", "set", "alice@example.test", "--reject-mail", "maybe", check=False), 2)
    fails(srv.cli("user", "set", "alice@example.test", "--reject-mail", check=False), 2)
    fails(srv.cli("user", "set", "alice@example.test", "--disabled", "--enabled", check=False), 2)
    fails(srv.cli("user", "set", "ghost@example.test", "--reject-mail", "on", check=False), 1)


@t
def reject_mail_refuses_disabled_still_receives(f):
    srv = f.std()
    srv.cli("alias", "add", "team@example.test", "alice@example.test")
    srv.cli("alias", "add", "team@example.test", "bob@example.test")
    # disabled: still receives
    ok(srv.cli("user", "set", "alice@example.test", "--disabled", check=False))
    assert deliver(srv, "alice@example.test", message()) == {}
    # reject-mail: refused at RCPT (550; 5.2.1 once the SMTP side tells
    # this apart from an unknown user), never accepted and dropped
    ok(srv.cli("user", "set", "alice@example.test", "--reject-mail", "on", check=False))
    expect_smtp_error(lambda: deliver(srv, "alice@example.test", message()), 550)
    # through an alias the others still get it
    assert deliver(srv, "team@example.test", message(to="team@example.test")) == {}
    ok(srv.cli("user", "set", "alice@example.test", "--reject-mail", "off", "--enabled", check=False))
    assert pop3_count(srv, "alice@example.test", PASSWORD) == 1
    assert pop3_count(srv, "bob@example.test", PASSWORD) == 1


def upgrade_from_version_1(f):
    srv = f.bare()
    for suffix in ("", "-wal", "-shm"):
        p = os.path.join(srv.data, "directory.db" + suffix)
        if os.path.exists(p):
            os.unlink(p)
    c = sqlite3.connect(os.path.join(srv.data, "directory.db"))
    c.executescript(SCHEMA_V1)
    c.execute("INSERT INTO domains VALUES ('example.test')")
    c.execute("INSERT INTO users(address, domain, password_hash, pop3, created) VALUES (?, ?, ?, 0, 1500000000)",
              ("old@example.test", "example.test", "$6$x$y"))
    c.execute("PRAGMA user_version = 1")
    c.commit()
    c.close()

    s = show(srv, "old@example.test")
    assert (s["pop3"], s["imap"], s["reject-mail"], s["app-passwords"]) == ("off", "on", "off", "0"), s
    assert s["created"].startswith("2017-07-14"), s
    with db(srv) as c2:
        assert c2.execute("PRAGMA user_version").fetchone()[0] == 3
    add(srv, "old@example.test", "phone")
    ok(srv.cli("user", "set", "old@example.test", "--reject-mail", "on", check=False))
    assert show(srv, "old@example.test")["reject-mail"] == "on"

    # a newer file than this tern knows is refused, untouched
    with db(srv) as c3:
        c3.execute("PRAGMA user_version = 99")
    fails(srv.cli("user", "show", "old@example.test", check=False), 1, "newer")


# A version-1 file is SQLite's past; PostgreSQL starts at version 2
# (test_directory_pg.py checks its newer-version refusal).
if DIRECTORY != "postgresql":
    t(upgrade_from_version_1)


suite.run(setup, teardown_all)
