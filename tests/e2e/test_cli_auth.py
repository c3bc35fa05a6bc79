"""End-to-end tests of `tern auth blocked` and `tern auth unblock` (issue 4):
help texts, an empty list without creating the state file, listing and
lifting blocks in data_dir/penalty.db, and working while another process
holds the file open (the server, with SQLite WAL).

The sessions do not record failures yet (the lead wires src/auth/penalty.h
into SMTP/POP3), so the blocks are written here the way the server writes
them: rows in the blocks table."""

import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import DIRECTORY, TERN, Suite  # noqa: E402
from mailcheck import case, setup, teardown_all  # noqa: E402
import subprocess  # noqa: E402

suite = Suite()
t = case(suite)


def ok(r):
    assert r.returncode == 0, "exit %d\nstdout: %s\nstderr: %s" % (r.returncode, r.stdout, r.stderr)
    assert "AddressSanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr
    return r


def fails(r, status):
    assert r.returncode == status, "exit %d (wanted %d)\nstdout: %s\nstderr: %s" % (
        r.returncode, status, r.stdout, r.stderr)
    assert r.stderr.strip(), "no message on stderr"
    assert "AddressSanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr
    return r


def state(srv):
    return os.path.join(srv.data, "penalty.db")


def penalty_db(srv):
    """The state's database and the prefix of its tables: penalty.db, or
    the schema tern_penalty with the directory on PostgreSQL."""
    if srv.dsn:
        return srv.db(), "tern_penalty."
    return sqlite3.connect(state(srv)), ""


def add_blocks(srv, rows):
    """rows: (source, seconds from now, reason)."""
    os.makedirs(srv.data, exist_ok=True)
    if srv.dsn:
        ok(srv.cli("auth", "blocked", check=False))   # makes the tables
    c, prefix = penalty_db(srv)
    if not srv.dsn:
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("CREATE TABLE IF NOT EXISTS blocks(source TEXT PRIMARY KEY, until INTEGER NOT NULL,"
                  " why TEXT NOT NULL, since INTEGER NOT NULL)")
    now = int(time.time())
    for source, secs, why in rows:
        c.execute("INSERT INTO %sblocks VALUES(?, ?, ?, ?) ON CONFLICT(source) DO UPDATE SET until = excluded.until"
                  % prefix, (source, now + secs, why, now))
    c.commit()
    c.close()


def listed(srv):
    out = ok(srv.cli("auth", "blocked", check=False)).stdout
    if out.strip() == "nothing is blocked":
        return []
    return [line.split()[0] for line in out.splitlines()]


@t
def help_texts(f):
    for args in (["auth", "--help"], ["auth", "-h"], ["auth", "blocked", "--help"], ["auth", "unblock", "-h"],
                 ["help", "auth"]):
        r = ok(subprocess.run([TERN] + args, capture_output=True, text=True))
        assert "usage: tern auth" in r.stdout, (args, r.stdout)
    r = ok(subprocess.run([TERN, "--help"], capture_output=True, text=True))
    assert "auth blocked|unblock" in r.stdout, r.stdout


@t
def empty_list_creates_nothing(f):
    srv = f.bare()
    r = ok(srv.cli("auth", "blocked", check=False))
    assert r.stdout == "nothing is blocked\n", r.stdout
    r = ok(srv.cli("auth", "unblock", "192.0.2.7", check=False))
    assert "nothing blocked matches 192.0.2.7" in r.stdout, r.stdout
    assert not os.path.exists(state(srv)), "the CLI created the state file"


@t
def list_and_unblock(f):
    srv = f.bare()
    add_blocks(srv, [
        ("192.0.2.7", 600, "too many failed logins"),
        ("198.51.100.0/24", 900, "password spraying from the network"),
        ("2001:db8:1:2::/64", 1200, "password spraying (failed logins for many accounts)"),
        ("203.0.113.1", -10, "too many failed logins"),   # expired
        ("unparseable", 300, "too many failed logins"),
    ])
    out = ok(srv.cli("auth", "blocked", check=False)).stdout
    lines = out.splitlines()
    assert [l.split()[0] for l in lines] == ["unparseable", "192.0.2.7", "2001:db8:1:2::/64",
                                              "198.51.100.0/24"], out
    assert "203.0.113.1" not in out, out
    line = [l for l in lines if l.startswith("192.0.2.7 ")][0]
    assert line.split()[1].endswith("Z") and "too many failed logins" in line, line
    assert any("password spraying from the network" in l for l in lines if l.startswith("198.51.100.0/24")), out

    r = ok(srv.cli("auth", "unblock", "192.0.2.7", check=False))
    assert "unblocked 1 source" in r.stdout, r.stdout
    assert "192.0.2.7" not in listed(srv)
    # An address inside a blocked network lifts the network's block.
    ok(srv.cli("auth", "unblock", "198.51.100.42", check=False))
    assert "198.51.100.0/24" not in listed(srv)
    ok(srv.cli("auth", "unblock", "2001:db8:1::/48", check=False))
    ok(srv.cli("auth", "unblock", "unparseable", check=False))
    r = ok(srv.cli("auth", "blocked", check=False))
    assert r.stdout == "nothing is blocked\n", r.stdout
    # The unblocks are logged for the running server to pick up.
    c, prefix = penalty_db(srv)
    got = [row[0] for row in c.execute("SELECT source FROM %sunblocks ORDER BY id" % prefix)]
    c.close()
    assert got == ["192.0.2.7", "198.51.100.42", "2001:db8:1::/48", "unparseable"], got


@t
def bad_arguments(f):
    srv = f.bare()
    for bad in ("not-an-address", "10.0.0.0/33", "2001:db8::/200", "", "1.2.3"):
        fails(srv.cli("auth", "unblock", bad, check=False), 2)
    fails(srv.cli("auth", "unblock", check=False), 2)
    fails(srv.cli("auth", "unblock", "1.2.3.4", "5.6.7.8", check=False), 2)
    fails(srv.cli("auth", "blocked", "extra", check=False), 2)
    fails(srv.cli("auth", "frob", check=False), 2)
    fails(srv.cli("auth", check=False), 2)


def works_while_another_process_holds_the_file(f):
    srv = f.bare()
    add_blocks(srv, [("192.0.2.9", 600, "too many failed logins")])
    holder = sqlite3.connect(state(srv))
    holder.execute("BEGIN")
    holder.execute("SELECT count(*) FROM blocks").fetchone()   # an open read transaction
    try:
        assert listed(srv) == ["192.0.2.9"]
        ok(srv.cli("auth", "unblock", "192.0.2.9", check=False))
        assert listed(srv) == []
    finally:
        holder.rollback()
        holder.close()


# SQLite's file locking; PostgreSQL has no file to hold.
if DIRECTORY != "postgresql":
    t(works_while_another_process_holds_the_file)


suite.run(setup, teardown_all)
