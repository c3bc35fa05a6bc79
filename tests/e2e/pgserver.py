"""A throw-away PostgreSQL for the tests: initdb and pg_ctl (Debian's
postgresql package) on a temporary directory, listening on a free
loopback port only (TCP, trust authentication for the superuser "tern").

initdb and the server refuse to run as root: as root they run as the
unprivileged user "nobody" (runuser), in a directory given to it.

    pg = PgServer().start()
    dsn = pg.create_database()      # a fresh database for one tern
    pg.psql(dsn, "SELECT 1")
    pg.stop(); pg.start()           # the same cluster, same port
    pg.cleanup()

TERN_TEST_DIRECTORY=postgresql makes harness.Server put every test's
directory on one such server (harness.shared_pg())."""

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

PG_USER = "tern"


def pg_bindir():
    """The newest /usr/lib/postgresql/N/bin with initdb."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if not found:
        raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    return os.path.dirname(found[-1])


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class PgServer:
    def __init__(self):
        self.bindir = pg_bindir()
        # As root the server runs as nobody, who must reach the directory:
        # under /tmp, not a TMPDIR that may sit in root's home.
        self.dir = tempfile.mkdtemp(prefix="tern-pg-", dir="/tmp" if os.geteuid() == 0 else None)
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "postgres.log")
        self.port = free_port()
        self.running = False
        self.ndb = 0
        self.as_user = []
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(self.dir, nobody.pw_uid, nobody.pw_gid)
            self.as_user = ["runuser", "-u", "nobody", "--"]
        self.run([os.path.join(self.bindir, "initdb"), "-D", self.data, "-U", PG_USER,
                  "--auth=trust", "-E", "UTF8", "--no-locale", "-N"])
        atexit.register(self.cleanup)

    def run(self, argv, check=True):
        r = subprocess.run(self.as_user + argv, capture_output=True, text=True, cwd=self.dir)
        if check and r.returncode != 0:
            raise RuntimeError("%s failed: %s %s" % (argv[0], r.stdout, r.stderr))
        return r

    def start(self):
        opts = ("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off" % (self.port, self.dir))
        self.run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-l", self.log,
                  "-o", opts, "-w", "-t", "60", "start"])
        self.running = True
        return self

    def stop(self, mode="fast"):
        if self.running:
            self.run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m", mode, "-w", "stop"],
                     check=False)
            self.running = False

    def cleanup(self):
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    def dsn(self, db):
        return "postgresql://%s@127.0.0.1:%d/%s" % (PG_USER, self.port, db)

    def psql(self, dsn, sql):
        """Runs sql; returns psql's unaligned, tuples-only output."""
        r = subprocess.run([os.path.join(self.bindir, "psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                            "-d", dsn, "-c", sql], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("psql failed: %s" % r.stderr)
        return r.stdout

    def create_database(self):
        """A fresh, empty database; returns its dsn."""
        self.ndb += 1
        name = "tern_%d_%d" % (os.getpid(), self.ndb)
        self.psql(self.dsn("postgres"), "CREATE DATABASE %s" % name)
        return self.dsn(name)


class PgConnection:
    """Enough of sqlite3.Connection for the tests' looks into a directory
    on PostgreSQL: execute(sql, params) with "?" parameters (quoted in
    here), fetchone(), fetchall(), iteration, `with`.  Each execute is one
    psql run (autocommit); fields that look like integers come back as
    int, as sqlite3 gives INTEGER columns."""

    def __init__(self, dsn):
        self.dsn = dsn
        self.rows = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def close(self):
        pass

    def commit(self):
        pass

    def execute(self, sql, params=()):
        parts = sql.split("?")
        assert len(parts) == len(params) + 1, sql
        text = parts[0]
        for p, rest in zip(params, parts[1:]):
            text += (str(p) if isinstance(p, int) else "'" + str(p).replace("'", "''") + "'") + rest
        r = subprocess.run([os.path.join(pg_bindir(), "psql"), "-X", "-q", "-A", "-t", "-F", "\x1f",
                            "-v", "ON_ERROR_STOP=1", "-d", self.dsn, "-c", text], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("psql: %s" % r.stderr)
        conv = lambda f: int(f) if f.lstrip("-").isdigit() else f  # noqa: E731
        self.rows = [tuple(conv(f) for f in line.split("\x1f")) for line in r.stdout.splitlines() if line]
        return self

    def fetchone(self):
        return self.rows[0] if self.rows else None

    def fetchall(self):
        return list(self.rows)

    def __iter__(self):
        return iter(self.rows)


if __name__ == "__main__":
    # python3 tests/e2e/pgserver.py run CMD [ARG...]: runs CMD with
    # TERN_TEST_PG_DSN naming a fresh database on a PostgreSQL started for
    # it (the unit tests of src/directory re-run themselves this way).
    import sys
    if len(sys.argv) < 3 or sys.argv[1] != "run":
        sys.exit("usage: pgserver.py run CMD [ARG...]")
    pg = PgServer().start()
    try:
        env = dict(os.environ, TERN_TEST_PG_DSN=pg.create_database(), TERN_TEST_PG_WRAPPED="1")
        rc = subprocess.call(sys.argv[2:], env=env)
    finally:
        pg.cleanup()
    sys.exit(rc)
