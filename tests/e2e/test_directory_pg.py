"""The directory on PostgreSQL (issue 11, first part): a real PostgreSQL
started by this test (initdb and pg_ctl on a temporary directory, a
loopback port: tests/e2e/pgserver.py), and Tern with [directory] backend =
postgresql.  Users, aliases, app passwords, quotas and protocol switches
through the CLI, read back with psql; IMAP, POP3 and submission logins;
delivery to a user and an alias; the database stopped (logins get the
protocol's temporary failure, never "wrong password") and started again
(Tern reconnects); brute-force blocks shared by two Tern servers on one
database; the schema version; what tern backup says."""

import base64
import imaplib
import os
import poplib
import re
import smtplib
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import PASSWORD, Server, Suite, stop_and_check  # noqa: E402
from pgserver import PgServer  # noqa: E402

suite = Suite()
PG = PgServer().start()
SHOWN = re.compile(r"^password: ([a-z]{4} [a-z]{4} [a-z]{4} [a-z]{4})$", re.M)


def ok(r):
    assert r.returncode == 0, "exit %d\nstdout: %s\nstderr: %s" % (r.returncode, r.stdout, r.stderr)
    assert "AddressSanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr
    return r


def fails(r, needle):
    assert r.returncode != 0, "exit 0\nstdout: %s" % r.stdout
    assert needle in r.stderr, (needle, r.stderr)
    assert "AddressSanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr
    return r


def sql(srv, query):
    return PG.psql(srv.dsn, query).strip()


def new_server(dsn=None, extra=""):
    srv = Server(dsn=dsn or PG.create_database(), extra=extra)
    srv.add_user("alice@example.test")
    srv.add_user("bob@example.test")
    return srv


def setup():
    if not PG.running:
        PG.start()
    return new_server().start()


def teardown(srv):
    stop_and_check(srv)


def imap_login(srv, user, password, source="127.0.0.1"):
    """The tagged answer to LOGIN: ('OK'|'NO', text)."""
    m = imaplib.IMAP4("127.0.0.1", srv.port("imap"), timeout=30)
    try:
        typ, data = m._simple_command("LOGIN", user, m._quote(password))
        return typ, b" ".join(data).decode()
    except imaplib.IMAP4.error as e:
        return "NO", str(e)
    finally:
        try:
            m.shutdown()
        except OSError:
            pass


def pop3_login(srv, user, password, source="127.0.0.1"):
    with socket.create_connection(("127.0.0.1", srv.port("pop3")), timeout=30,
                                  source_address=(source, 0)) as s:
        f = s.makefile("rb")
        greeting = f.readline().decode()
        if not greeting.startswith("+OK"):
            return greeting.strip()
        s.sendall(("USER %s\r\nPASS %s\r\n" % (user, password)).encode())
        f.readline()
        answer = f.readline().decode().strip()
        s.sendall(b"QUIT\r\n")
        return answer


def smtp_auth(srv, user, password):
    with smtplib.SMTP("127.0.0.1", srv.port("submission"), timeout=30) as s:
        s.ehlo("client.example")
        blob = base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode()
        return s.docmd("AUTH", "PLAIN " + blob)


@suite.case
def cli_operations_land_in_postgresql(srv):
    # Nothing in data_dir: the directory is the database.
    assert not os.path.exists(os.path.join(srv.data, "directory.db"))
    assert sql(srv, "SELECT max(version) FROM schema_version") == "3"
    assert sql(srv, "SELECT address FROM users ORDER BY address") == "alice@example.test\nbob@example.test"
    ok(srv.cli("domain", "add", "example.net"))
    fails(srv.cli("domain", "add", "EXAMPLE.NET", check=False), "already exists")
    assert sql(srv, "SELECT name FROM domains ORDER BY name") == "example.net\nexample.org\nexample.test"
    ok(srv.cli("user", "add", "carol@example.net", "--password-stdin", "--quota", "10M",
               input=PASSWORD + "\n"))
    fails(srv.cli("user", "add", "carol@example.net", "--password-stdin", input=PASSWORD + "\n",
                  check=False), "already exists")
    assert sql(srv, "SELECT quota_bytes FROM users WHERE address = 'carol@example.net'") == str(10 * 1024 * 1024)
    ok(srv.cli("user", "set", "carol@example.net", "--pop3", "off", "--smtp", "off"))
    assert sql(srv, "SELECT pop3, imap, submission FROM users WHERE address = 'carol@example.net'") == "0|1|0"
    show = ok(srv.cli("user", "show", "carol@example.net")).stdout
    assert "pop3: off" in show and "imap: on" in show and "submission: off" in show, show
    # Aliases: fan-out, refused onto a user's address, deleted.
    ok(srv.cli("alias", "add", "info@example.net", "carol@example.net"))
    ok(srv.cli("alias", "add", "info@example.net", "someone@elsewhere.example"))
    fails(srv.cli("alias", "add", "alice@example.test", "bob@example.test", check=False), "is a user")
    assert sql(srv, "SELECT count(*) FROM aliases WHERE alias = 'info@example.net'") == "2"
    fails(srv.cli("domain", "del", "example.net", check=False), "still has 1 user")
    # App passwords: one name per user without regard to case.
    out = ok(srv.cli("user", "app-password", "add", "carol@example.net", "Phone")).stdout
    assert SHOWN.search(out), out
    fails(srv.cli("user", "app-password", "add", "carol@example.net", "PHONE", check=False), "already has")
    ok(srv.cli("user", "app-password", "add", "carol@example.net", "laptop", "--protocols", "imap"))
    listing = ok(srv.cli("user", "app-password", "list", "carol@example.net")).stdout.splitlines()
    assert [line.split()[0] for line in listing[1:]] == ["Phone", "laptop"], listing
    ok(srv.cli("user", "app-password", "revoke", "carol@example.net", "phone"))
    assert sql(srv, "SELECT name FROM app_passwords") == "laptop"
    # Deleting the user deletes its app passwords (ON DELETE CASCADE).
    ok(srv.cli("user", "del", "carol@example.net", "--yes", input=""))
    assert sql(srv, "SELECT count(*) FROM app_passwords") == "0"
    ok(srv.cli("alias", "del", "info@example.net"))
    ok(srv.cli("domain", "del", "example.net"))
    assert "example.net" not in ok(srv.cli("domain", "list")).stdout.split()


@suite.case
def logins_on_every_protocol(srv):
    typ, text = imap_login(srv, "alice@example.test", PASSWORD)
    assert typ == "OK", text
    typ, text = imap_login(srv, "alice@example.test", "wrong password")
    assert typ == "NO" and "AUTHENTICATIONFAILED" in text, text
    assert pop3_login(srv, "bob@example.test", PASSWORD).startswith("+OK")
    assert pop3_login(srv, "bob@example.test", "wrong").startswith("-ERR [AUTH]")
    code, _ = smtp_auth(srv, "alice@example.test", PASSWORD)
    assert code == 235, code
    # A per-user switch, read from PostgreSQL at login.
    ok(srv.cli("user", "set", "bob@example.test", "--pop3", "off"))
    assert pop3_login(srv, "bob@example.test", PASSWORD).startswith("-ERR")
    # An app password, and its last use recorded in the database.
    out = ok(srv.cli("user", "app-password", "add", "alice@example.test", "mua", "--protocols", "imap")).stdout
    apw = SHOWN.search(out).group(1)
    typ, text = imap_login(srv, "alice@example.test", apw.upper())
    assert typ == "OK", text
    assert sql(srv, "SELECT last_addr FROM app_passwords WHERE name = 'mua'") == "127.0.0.1"
    assert pop3_login(srv, "alice@example.test", apw).startswith("-ERR")   # imap only


@suite.case
def delivery_to_user_and_alias(srv):
    ok(srv.cli("alias", "add", "team@example.test", "alice@example.test"))
    ok(srv.cli("alias", "add", "team@example.test", "bob@example.test"))
    with smtplib.SMTP("127.0.0.1", srv.port("smtp"), timeout=30) as s:
        s.ehlo("mx.example.org")
        # The alias fans out to both users; alice also gets one of her own.
        assert s.sendmail("sender@example.org", ["team@example.test"], b"Subject: 1\r\n\r\nbody\r\n") == {}
        assert s.sendmail("sender@example.org", ["alice@example.test"], b"Subject: 2\r\n\r\nbody\r\n") == {}
        s.docmd("MAIL", "FROM:<sender@example.org>")
        code, text = s.docmd("RCPT", "TO:<nobody@example.test>")
        assert code == 550 and b"5.1.1" in text, (code, text)   # a local domain, no such user
    for user, want in (("alice@example.test", 2), ("bob@example.test", 1)):
        deadline = time.time() + 20
        while True:
            p = poplib.POP3("127.0.0.1", srv.port("pop3"), timeout=30)
            p.user(user)
            p.pass_(PASSWORD)
            n = p.stat()[0]
            p.quit()
            if n == want or time.time() > deadline:
                break
            time.sleep(0.2)
        assert n == want, (user, n)


@suite.case
def database_down_is_a_temporary_failure(srv):
    typ, text = imap_login(srv, "alice@example.test", PASSWORD)
    assert typ == "OK", text
    PG.stop()
    try:
        typ, text = imap_login(srv, "alice@example.test", PASSWORD)
        assert typ == "NO" and "[UNAVAILABLE]" in text, text
        answer = pop3_login(srv, "bob@example.test", PASSWORD)
        assert answer.startswith("-ERR [SYS/TEMP]"), answer
        code, text = smtp_auth(srv, "alice@example.test", PASSWORD)
        assert code == 454, (code, text)
        # The CLI says so too, and exits non-zero.
        fails(srv.cli("user", "list", check=False), "directory unavailable")
    finally:
        PG.start()
    # Back: the same server reconnects by itself.
    typ, text = imap_login(srv, "alice@example.test", PASSWORD)
    assert typ == "OK", text
    assert pop3_login(srv, "bob@example.test", PASSWORD).startswith("+OK")
    # Failures while it was down did not count as guesses.
    assert "blocked" not in ok(srv.cli("auth", "blocked")).stdout.replace("nothing is blocked", "")


@suite.case
def blocks_are_shared_between_servers(srv):
    attacker = "127.0.5.21"
    extra = "[bruteforce]\nblock_after = 3\ndelay_max = 1\n"
    a = Server(dsn=PG.create_database(), extra=extra)
    a.add_user("alice@example.test")
    a.start()
    b = Server(dsn=a.dsn, extra=extra, add_domains=False).start()   # the same database
    try:
        assert pop3_login(b, "alice@example.test", PASSWORD, source=attacker).startswith("+OK")
        for i in range(3):
            answer = pop3_login(a, "alice@example.test", "guess-%d" % i, source=attacker)
            assert answer.startswith("-ERR"), answer
        assert "Too many failed logins" in pop3_login(a, "alice@example.test", PASSWORD, source=attacker)
        assert sql(a, "SELECT source FROM tern_penalty.blocks") == attacker
        # B never saw a failure from the attacker, yet refuses it once it
        # has read the shared blocks (its poller thread, every 2 s).
        deadline = time.time() + 10
        while True:
            answer = pop3_login(b, "alice@example.test", PASSWORD, source=attacker)
            if "Too many failed logins" in answer or time.time() > deadline:
                break
            time.sleep(0.5)
        assert "Too many failed logins" in answer, answer
        assert attacker in ok(b.cli("auth", "blocked")).stdout
        # Unblocked through B's CLI: A lets the attacker in again.
        ok(b.cli("auth", "unblock", attacker))
        deadline = time.time() + 10
        while True:
            answer = pop3_login(a, "alice@example.test", PASSWORD, source=attacker)
            if answer.startswith("+OK") or time.time() > deadline:
                break
            time.sleep(0.5)
        assert answer.startswith("+OK"), answer
    finally:
        stop_and_check(b)
        stop_and_check(a)


@suite.case
def schema_version_newer_than_tern_is_refused(srv):
    srv.stop()
    sql(srv, "UPDATE schema_version SET version = 99")
    fails(srv.cli("user", "list", check=False), "schema version 99 is newer than this tern")
    # a version-2 database (before back ends) is brought up to version 3
    sql(srv, "DROP INDEX users_backend; ALTER TABLE users DROP COLUMN backend; DROP TABLE backends; "
             "UPDATE schema_version SET version = 2")
    assert "alice@example.test" in ok(srv.cli("user", "list")).stdout
    assert sql(srv, "SELECT max(version) FROM schema_version") == "3"
    ok(srv.cli("backend", "add", "b1", "192.0.2.1"))
    ok(srv.cli("user", "set", "alice@example.test", "--backend", "b1"))
    assert sql(srv, "SELECT backend FROM users WHERE address = 'alice@example.test'") == "b1"
    fails(srv.cli("backend", "del", "b1", check=False), "still holds 1 user")
    ok(srv.cli("user", "set", "alice@example.test", "--backend", "none"))
    ok(srv.cli("backend", "del", "b1"))
    srv.start()


@suite.case
def moving_a_sqlite_directory_as_operations_md_says(srv):
    old = Server(dsn="")            # SQLite, whatever TERN_TEST_DIRECTORY says
    try:
        assert os.path.exists(os.path.join(old.data, "directory.db"))
        old.add_user("dave@example.test")
        ok(old.cli("alias", "add", "d@example.test", "dave@example.test"))
        out = ok(old.cli("user", "app-password", "add", "dave@example.test", "Phone")).stdout
        apw = SHOWN.search(out).group(1)
        ok(old.cli("backend", "add", "b1", "192.0.2.1"))
        ok(old.cli("backend", "add", "b2", "192.0.2.2"))
        dsn = PG.create_database()
        old.dsn = dsn
        old.write_config()
        ok(old.cli("domain", "list"))   # creates the tables, empty
        dump = ""
        for t in ("domains", "backends", "users", "aliases", "app_passwords"):
            r = subprocess.run(["sqlite3", "-header", "-cmd", ".mode insert " + t,
                                os.path.join(old.data, "directory.db"), "SELECT * FROM %s ORDER BY rowid" % t],
                               capture_output=True, text=True, check=True)
            dump += r.stdout
        r = subprocess.run([os.path.join(PG.bindir, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                            "--single-transaction", "-d", dsn], input=dump, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert "d@example.test -> dave@example.test" in ok(old.cli("alias", "list")).stdout
        assert ok(old.cli("backend", "list")).stdout == "b1 192.0.2.1 0\nb2 192.0.2.2 0\n"
        old.start()
        typ, text = imap_login(old, "dave@example.test", PASSWORD)
        assert typ == "OK", text
        typ, text = imap_login(old, "dave@example.test", apw)
        assert typ == "OK", text
    finally:
        stop_and_check(old)


@suite.case
def backup_says_the_directory_is_not_in_it(srv):
    dest = os.path.join(srv.dir, "backup")
    out = ok(srv.cli("backup", dest)).stdout
    assert "directory: on PostgreSQL, not in this backup: back it up with pg_dump" in out, out
    assert not os.path.exists(os.path.join(dest, "directory.db"))


if __name__ == "__main__":
    suite.run(setup, teardown)
