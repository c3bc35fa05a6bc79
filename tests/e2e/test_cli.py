"""End-to-end tests of the command line: `tern domain|user|alias|config|
queue ...`, help texts and exit statuses, config errors naming file:line,
Dovecot passwd-file import, and that what the CLI changes is what a
running server uses."""

import os
import poplib
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import PASSWORD, TERN, Suite  # noqa: E402
from mailcheck import case, deliver, expect_pop_error, message, pop3, pop3_count, setup, teardown_all  # noqa: E402

suite = Suite()
t = case(suite)


def tern(*args, input=None):
    return subprocess.run([TERN] + list(args), input=input, capture_output=True, text=True, timeout=60)


def ok(r):
    assert r.returncode == 0, "exit %d\nstdout: %s\nstderr: %s" % (r.returncode, r.stdout, r.stderr)
    return r


def fails(r, status=None):
    """A failed command: non-zero exit (not a crash), a message on stderr."""
    assert r.returncode > 0, "exit %d (wanted a failure)\nstdout: %s\nstderr: %s" % (r.returncode, r.stdout, r.stderr)
    if status is not None:
        assert r.returncode == status, (r.returncode, r.stderr)
    assert r.stderr.strip(), "no message on stderr"
    assert "AddressSanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr
    return r


def sha512_crypt(password, salt="x"):
    return subprocess.run(["openssl", "passwd", "-6", "-salt", salt, password], capture_output=True, text=True,
                          check=True).stdout.strip()


def can_login(srv, user, password):
    try:
        p = pop3(srv, user, password)
    except poplib.error_proto:
        return False
    p.quit()
    return True


COMMANDS = [
    [], ["serve"], ["domain"], ["domain", "add"], ["domain", "del"], ["domain", "list"],
    ["user"], ["user", "add"], ["user", "del"], ["user", "list"], ["user", "show"], ["user", "passwd"],
    ["user", "set"], ["user", "import-passwd"], ["alias"], ["alias", "add"], ["alias", "del"], ["alias", "list"],
    ["config"], ["config", "check"], ["queue"], ["queue", "list"], ["backup"], ["restore"],
    ["import"], ["import", "maildir"], ["import", "mbox"], ["export"], ["export", "maildir"], ["export", "mbox"],
    ["user", "export"], ["user", "import"],
]


@t
def help_for_every_command(f):
    for cmd in COMMANDS:
        for flag in ("--help", "-h"):
            r = tern(*(cmd + [flag]))
            assert r.returncode == 0, "tern %s %s: exit %d %s" % (" ".join(cmd), flag, r.returncode, r.stderr)
            assert "usage" in r.stdout.lower(), "tern %s %s printed %r" % (" ".join(cmd), flag, r.stdout)
    r = ok(tern("help", "user"))
    assert "import-passwd" in r.stdout
    r = ok(tern("--version"))
    assert r.stdout.strip(), r.stdout
    # The top-level help names every command group.
    r = ok(tern("--help"))
    for group in ("serve", "domain", "user", "alias", "config", "queue", "user app-password", "backup", "restore"):
        assert group in r.stdout, (group, r.stdout)
    r = ok(tern("user", "del", "--help"))
    assert "--keep-mail" in r.stdout and "--yes" in r.stdout, r.stdout


@t
def unknown_commands_and_options(f):
    srv = f.bare()
    c = ["--config", srv.conf]
    fails(tern(*c, "frobnicate"))
    fails(tern())
    fails(tern(*c, "user", "frob"))
    fails(tern(*c, "user"))
    fails(tern(*c, "user", "add"))  # missing ADDRESS
    fails(tern(*c, "user", "list", "--bogus"))
    fails(tern(*c, "user", "show", "a@example.test", "extra"))
    fails(tern(*c, "domain", "add", "a.example", "b.example"))
    fails(tern(*c, "user", "set", "x@example.test", "--pop3", "maybe"))
    fails(tern(*c, "user", "set", "x@example.test", "--pop3"))
    fails(tern(*c, "user", "add", "x@example.test", "--role", "god", "--password-stdin", input="pw12345678\n"))
    fails(tern(*c, "help", "frobnicate"))
    fails(tern("--config"))
    fails(tern("--config", os.path.join(srv.dir, "missing.conf"), "domain", "list"))


@t
def domains(f):
    srv = f.bare()
    r = ok(srv.cli("domain", "list"))
    assert r.stdout.split() == ["example.org", "example.test"] or \
        sorted(r.stdout.split()) == ["example.org", "example.test"], r.stdout
    ok(srv.cli("domain", "add", "example.net"))
    assert "example.net" in srv.cli("domain", "list").stdout.split()
    fails(srv.cli("domain", "add", "example.net", check=False))  # twice
    fails(srv.cli("domain", "add", "EXAMPLE.NET", check=False))  # case-insensitive
    for bad in ("not a domain", "-x.example", "a..b", "", "x" * 300, "exa$mple.com"):
        fails(srv.cli("domain", "add", bad, check=False))
    srv.add_user("u@example.net")
    fails(srv.cli("domain", "del", "example.net", check=False))  # still has a user
    ok(srv.cli("user", "del", "u@example.net", "--yes", input=""))
    ok(srv.cli("domain", "del", "example.net"))
    assert "example.net" not in srv.cli("domain", "list").stdout.split()
    fails(srv.cli("domain", "del", "example.net", check=False))  # not there


@t
def users(f):
    srv = f.bare()
    ok(srv.cli("user", "add", "alice@example.test", "--password-stdin", input=PASSWORD + "\n"))
    ok(srv.cli("user", "add", "boss@example.test", "--password-stdin", "--role", "admin", input=PASSWORD + "\n"))
    ok(srv.cli("user", "add", "carol@example.org", "--password-stdin", "--quota", "10M", input=PASSWORD + "\n"))
    fails(srv.cli("user", "add", "alice@example.test", "--password-stdin", input="x1234567\n", check=False))
    fails(srv.cli("user", "add", "ALICE@example.test", "--password-stdin", input="x1234567\n", check=False))
    fails(srv.cli("user", "add", "someone@example.net", "--password-stdin", input="x1234567\n", check=False))
    fails(srv.cli("user", "add", "no-at-sign", "--password-stdin", input="x1234567\n", check=False))
    fails(srv.cli("user", "add", "new@example.test", "--password-stdin", input="\n", check=False))  # empty
    lines = srv.cli("user", "list").stdout.splitlines()
    addrs = sorted(l.split()[0] for l in lines)
    assert addrs == ["alice@example.test", "boss@example.test", "carol@example.org"], lines
    assert any(l.startswith("boss@example.test") and "admin" in l for l in lines), lines
    only = [l.split()[0] for l in srv.cli("user", "list", "example.org").stdout.splitlines()]
    assert only == ["carol@example.org"], only
    show = ok(srv.cli("user", "show", "alice@example.test")).stdout
    fields = dict(l.split(": ", 1) for l in show.splitlines() if ": " in l)
    assert fields.get("address") == "alice@example.test", show
    assert fields.get("role") == "user" and fields.get("pop3") == "on" and fields.get("submission") == "on", show
    assert PASSWORD not in show and "$" not in show, "show prints the password hash: %s" % show
    show = ok(srv.cli("user", "show", "carol@example.org")).stdout
    assert "quota: 10M" in show, show
    ok(srv.cli("user", "set", "alice@example.test", "--pop3", "off", "--imap", "off"))
    show = srv.cli("user", "show", "alice@example.test").stdout
    assert "pop3: off" in show and "imap: off" in show and "submission: on" in show, show
    fails(srv.cli("user", "set", "alice@example.test", check=False))  # nothing to change
    fails(srv.cli("user", "set", "ghost@example.test", "--pop3", "on", check=False))
    fails(srv.cli("user", "show", "ghost@example.test", check=False))
    ok(srv.cli("user", "del", "boss@example.test", "--yes", input=""))
    fails(srv.cli("user", "show", "boss@example.test", check=False))
    fails(srv.cli("user", "del", "boss@example.test", "--yes", input="", check=False))
    # user set --smtp is --submission (one vocabulary, both spellings)
    ok(srv.cli("user", "set", "alice@example.test", "--smtp", "off"))
    assert "submission: off" in srv.cli("user", "show", "alice@example.test").stdout
    # The data directory (password hashes inside) is private.
    mode = os.stat(srv.data).st_mode
    assert mode & 0o077 == 0, "data_dir mode %o" % (mode & 0o777)


@t
def generated_password_and_passwd(f):
    srv = f.bare()
    r = ok(srv.cli("user", "add", "gen@example.test"))
    m = re.search(r"password: (\S+)", r.stdout)
    assert m, r.stdout
    generated = m.group(1)
    assert len(generated) >= 12, generated
    srv.add_user("alice@example.test")
    srv.start()
    assert can_login(srv, "gen@example.test", generated)
    # passwd while the server runs: the new password works at once, the old one not.
    ok(srv.cli("user", "passwd", "alice@example.test", "--password-stdin", input="a brand new password\n"))
    assert can_login(srv, "alice@example.test", "a brand new password")
    assert not can_login(srv, "alice@example.test", PASSWORD)
    r = ok(srv.cli("user", "passwd", "gen@example.test"))
    new = re.search(r"password: (\S+)", r.stdout).group(1)
    assert new != generated
    assert can_login(srv, "gen@example.test", new)
    fails(srv.cli("user", "passwd", "ghost@example.test", "--password-stdin", input="whatever12\n", check=False))


@t
def changes_apply_to_running_server(f):
    srv = f.std(users=("alice@example.test",))
    # A user added while the server runs can receive mail and log in.
    srv.add_user("late@example.test")
    assert deliver(srv, "late@example.test", message(to="late@example.test")) == {}
    assert pop3_count(srv, "late@example.test") == 1
    # A domain added while it runs receives mail.
    ok(srv.cli("domain", "add", "example.net"))
    srv.add_user("new@example.net")
    assert deliver(srv, "new@example.net", message(to="new@example.net")) == {}
    # An alias added while it runs.
    ok(srv.cli("alias", "add", "postmaster@example.test", "alice@example.test"))
    assert deliver(srv, "postmaster@example.test", message(to="postmaster@example.test")) == {}
    assert pop3_count(srv, "alice@example.test") == 1
    # A deleted user is unknown at once.
    ok(srv.cli("user", "del", "late@example.test", "--yes", input=""))
    assert not can_login(srv, "late@example.test", PASSWORD)
    import smtplib
    s = smtplib.SMTP("127.0.0.1", srv.port("smtp"), timeout=15)
    try:
        s.ehlo("client.example.org")
        s.mail("x@example.org")
        code, text = s.rcpt("late@example.test")
        assert code == 550, (code, text)
    finally:
        s.quit()
    # --pop3 off takes effect without a restart.
    ok(srv.cli("user", "set", "alice@example.test", "--pop3", "off"))
    p = pop3(srv)
    try:
        p.user("alice@example.test")
        expect_pop_error(lambda: p.pass_(PASSWORD), "[AUTH]")
    finally:
        p.close()


@t
def aliases(f):
    srv = f.bare()
    srv.add_user("alice@example.test")
    ok(srv.cli("alias", "add", "info@example.test", "alice@example.test"))
    ok(srv.cli("alias", "add", "info@example.test", "someone@example.net"))
    out = ok(srv.cli("alias", "list")).stdout
    assert "info@example.test -> alice@example.test" in out and "info@example.test -> someone@example.net" in out, out
    fails(srv.cli("alias", "add", "x@example.net", "alice@example.test", check=False))  # not a local domain
    fails(srv.cli("alias", "add", "info@example.test", check=False))
    ok(srv.cli("alias", "del", "info@example.test", "someone@example.net"))
    out = srv.cli("alias", "list").stdout
    assert "someone@example.net" not in out and "alice@example.test" in out, out
    ok(srv.cli("alias", "del", "info@example.test"))
    assert "info@example.test" not in srv.cli("alias", "list").stdout


@t
def config_check_prints_effective_config(f):
    srv = f.bare()
    r = ok(srv.cli("config", "check"))
    out = r.stdout
    for needle in ("[server]", "hostname = mail.example.test", "data_dir = " + srv.data, "[listen]",
                   "pop3 = 127.0.0.1:%d" % srv.port("pop3"), "[limits]", "max_message_size",
                   "allow_plaintext = loopback", "threads = 2"):
        assert needle in out, "%r not in:\n%s" % (needle, out)
    # Defaults are printed too (a key we did not set).
    assert "max_recipients" in out and "max_connections" in out, out
    # The printed config is itself a valid config with the same effect.
    again = os.path.join(srv.dir, "again.conf")
    with open(again, "w") as fp:
        fp.write(out)
    r2 = ok(tern("--config", again, "config", "check"))
    assert r2.stdout.replace(again, srv.conf) == out or r2.stdout == out, (out, r2.stdout)
    # TERN_CONFIG is honoured.
    env = dict(os.environ, TERN_CONFIG=srv.conf)
    r3 = subprocess.run([TERN, "config", "check"], capture_output=True, text=True, env=env, timeout=60)
    assert r3.returncode == 0 and "mail.example.test" in r3.stdout, r3.stderr


def conf_error(srv, text, *lines):
    """A config whose line (one of lines) is wrong: check fails naming file:line."""
    path = os.path.join(srv.dir, "bad.conf")
    with open(path, "w") as fp:
        fp.write(text)
    r = fails(tern("--config", path, "config", "check"))
    assert any("%s:%d:" % (path, line) in r.stderr for line in lines), \
        "wanted %s:%s in %r" % (path, lines, r.stderr)
    return r


@t
def config_errors_name_file_and_line(f):
    srv = f.bare()
    base = "[server]\nhostname = h.example.test\ndata_dir = %s\n" % srv.data
    conf_error(srv, base + "bogus_key = 1\n", 4)
    conf_error(srv, base + "[limits]\nmax_message_size = banana\n", 5)
    conf_error(srv, base + "[nosuchsection]\nkey = value\n", 4, 5)
    conf_error(srv, base + "this line has no equals sign\n", 4)
    conf_error(srv, base + "[listen]\npop3 = 127.0.0.1:99999\n", 5)
    conf_error(srv, base + "[auth]\nallow_plaintext = sometimes\n", 5)
    conf_error(srv, base + "\n\n# comment\nthreads = -3\n", 7)
    conf_error(srv, "[server\n", 1)
    # serve refuses the same config, with the same message, and exits non-zero.
    path = os.path.join(srv.dir, "bad.conf")
    with open(path, "w") as fp:
        fp.write(base + "bogus_key = 1\n")
    r = fails(tern("--config", path, "serve"))
    assert "%s:4" % path in r.stderr, r.stderr


@t
def config_empty_unknown_section(f):
    # docs/CONFIG.md: "An unknown section or key ... stops the server",
    # even a section with nothing in it (a typo like [limts]).
    srv = f.bare()
    base = "[server]\nhostname = h.example.test\ndata_dir = %s\n" % srv.data
    conf_error(srv, base + "[limts]\n", 4)


@t
def queue_list_empty(f):
    srv = f.bare()
    r = ok(srv.cli("queue", "list"))
    assert "empty" in r.stdout.lower(), r.stdout


@t
def import_passwd(f):
    srv = f.bare()
    h1, h2 = sha512_crypt("first pw", "salt1"), sha512_crypt("second pw", "salt2")
    path = os.path.join(srv.dir, "users.passwd")
    with open(path, "w") as fp:
        fp.write("# a Dovecot passwd-file\n")
        fp.write("imp1@example.test:{SHA512-CRYPT}%s::::::\n" % h1)
        fp.write("imp2@example.org:{SHA512-CRYPT}%s:1000:1000::/home/imp2::userdb_mail=maildir:~/Maildir\n" % h2)
        fp.write("\n")
        fp.write("plain@example.test:{PLAIN}clear text pw::::::\n")
    r = ok(srv.cli("user", "import-passwd", path))
    users = [l.split()[0] for l in srv.cli("user", "list").stdout.splitlines()]
    assert sorted(users) == ["imp1@example.test", "imp2@example.org", "plain@example.test"], (users, r.stdout)
    # The stored hash is not a {PLAIN} password in clear.
    for root, dirs, files in os.walk(srv.data):
        for name in files:
            with open(os.path.join(root, name), "rb") as fp:
                assert b"clear text pw" not in fp.read(), "plain password stored in %s" % name
    srv.start()
    assert can_login(srv, "imp1@example.test", "first pw")
    assert not can_login(srv, "imp1@example.test", "second pw")
    assert can_login(srv, "imp2@example.org", "second pw")
    assert can_login(srv, "plain@example.test", "clear text pw")


@t
def import_passwd_bad_lines(f):
    srv = f.bare()
    h = sha512_crypt("pw", "x")
    path = os.path.join(srv.dir, "mixed.passwd")
    with open(path, "w") as fp:
        fp.write("good@example.test:{SHA512-CRYPT}%s::::::\n" % h)          # 1
        fp.write("bad@example.net:{SHA512-CRYPT}%s::::::\n" % h)            # 2: not a local domain
        fp.write("nohash@example.test\n")                                   # 3
        fp.write("weird@example.test:{MD4-NOPE}abcdef::::::\n")             # 4
        fp.write("short:{SHA512-CRYPT}%s::::::\n" % h)                       # 5: no domain, no --domain
        fp.write("x" * 5000 + "\n")                                         # 6: too long
        fp.write("good2@example.test:%s::::::\n" % h)                        # 7: bare crypt string
    r = fails(srv.cli("user", "import-passwd", path, check=False))
    for line in (2, 3, 4, 5, 6):
        assert "%s:%d" % (path, line) in r.stderr, "line %d not reported: %s" % (line, r.stderr)
    users = sorted(l.split()[0] for l in srv.cli("user", "list").stdout.splitlines())
    assert users == ["good2@example.test", "good@example.test"], users
    # --domain and --create-domains
    path2 = os.path.join(srv.dir, "nodomain.passwd")
    with open(path2, "w") as fp:
        fp.write("short:{SHA512-CRYPT}%s::::::\n" % h)
        fp.write("other@new.example:{SHA512-CRYPT}%s::::::\n" % h)
    ok(srv.cli("user", "import-passwd", path2, "--domain", "example.test", "--create-domains"))
    users = sorted(l.split()[0] for l in srv.cli("user", "list").stdout.splitlines())
    assert "short@example.test" in users and "other@new.example" in users, users
    assert "new.example" in srv.cli("domain", "list").stdout.split()
    fails(srv.cli("user", "import-passwd", os.path.join(srv.dir, "missing.passwd"), check=False))


@t
def import_passwd_twice_skips_existing(f):
    srv = f.bare()
    h = sha512_crypt("pw one", "s1")
    path = os.path.join(srv.dir, "again.passwd")
    with open(path, "w") as fp:
        for name in ("one", "two", "three"):
            fp.write("%s@example.test:{SHA512-CRYPT}%s::::::\n" % (name, h))
    r = ok(srv.cli("user", "import-passwd", path))
    assert "3 users imported, 0 skipped" in r.stdout, r.stdout
    ok(srv.cli("user", "passwd", "two@example.test", "--password-stdin", input="changed password\n"))
    with open(path, "a") as fp:
        fp.write("four@example.test:{SHA512-CRYPT}%s::::::\n" % h)
    r = ok(srv.cli("user", "import-passwd", path))
    assert "1 user imported, 3 skipped" in r.stdout, r.stdout
    srv.start()
    # a skipped user keeps the password it has now
    assert can_login(srv, "two@example.test", "changed password")
    assert can_login(srv, "four@example.test", "pw one")


def mail_dir(srv, address):
    local, domain = address.split("@")
    return os.path.join(srv.data, "mail", domain, local)


@t
def user_del_refuses_without_a_choice(f):
    srv = f.std(users=("alice@example.test",), start=False)
    # no terminal (stdin is a pipe): refuse at once, never wait for input
    r = fails(srv.cli("user", "del", "alice@example.test", input="yes\n", check=False), 1)
    assert "--yes" in r.stderr and "--keep-mail" in r.stderr, r.stderr
    assert "alice@example.test" in srv.cli("user", "list").stdout
    fails(srv.cli("user", "del", "ghost@example.test", "--yes", input="", check=False), 1)


@t
def user_del_keep_mail_and_re_add(f):
    srv = f.std(users=("alice@example.test", "bob@example.test"))
    ok(srv.cli("alias", "add", "info@example.test", "alice@example.test"))
    ok(srv.cli("alias", "add", "info@example.test", "bob@example.test"))
    assert deliver(srv, "alice@example.test", message(subject="old mail")) == {}
    assert pop3_count(srv, "alice@example.test") == 1
    r = ok(srv.cli("user", "del", "alice@example.test", "--keep-mail", input=""))
    m = re.search(r"kept in (\S+)", r.stdout)
    assert m, r.stdout
    kept = m.group(1)
    assert kept.startswith(os.path.join(srv.data, "deleted") + "/"), kept
    assert os.path.isdir(kept) and os.listdir(os.path.join(kept, "msg")), kept
    assert not os.path.exists(mail_dir(srv, "alice@example.test"))
    # the alias still pointing at her is reported, with the command
    assert "tern alias del info@example.test alice@example.test" in r.stdout, r.stdout
    out = ok(srv.cli("alias", "list")).stdout
    assert "info@example.test -> alice@example.test   (dangling: no such user)" in out, out
    assert "info@example.test -> bob@example.test\n" in out, out
    # a new alice starts empty, even on the running server (cached stores)
    srv.add_user("alice@example.test")
    assert pop3_count(srv, "alice@example.test") == 0
    assert deliver(srv, "alice@example.test", message(subject="new mail")) == {}
    assert pop3_count(srv, "alice@example.test") == 1
    assert "dangling" not in ok(srv.cli("alias", "list")).stdout


@t
def user_del_yes_removes_the_mail(f):
    srv = f.std(users=("alice@example.test",))
    assert deliver(srv, "alice@example.test", message()) == {}
    assert pop3_count(srv, "alice@example.test") == 1
    r = ok(srv.cli("user", "del", "alice@example.test", "--yes", input=""))
    assert "its mail was removed" in r.stdout, r.stdout
    assert not os.path.exists(mail_dir(srv, "alice@example.test"))
    assert os.listdir(os.path.join(srv.data, "deleted")) == []
    srv.add_user("alice@example.test")
    assert pop3_count(srv, "alice@example.test") == 0


@t
def user_add_moves_a_leftover_folder_aside(f):
    # what an older tern left behind (it kept the files of deleted users)
    srv = f.bare()
    left = os.path.join(mail_dir(srv, "dave@example.test"), "msg")
    os.makedirs(left)
    with open(os.path.join(left, "old"), "w") as fp:
        fp.write("old mail")
    r = ok(srv.cli("user", "add", "dave@example.test", "--password-stdin", input=PASSWORD + "\n"))
    assert "starts empty" in r.stdout and "/deleted/dave@example.test." in r.stdout, r.stdout
    assert not os.path.exists(mail_dir(srv, "dave@example.test"))


@t
def config_check_catches_what_serve_rejects(f):
    srv = f.bare()
    with open(srv.conf) as fp:
        text = fp.read()
    # a key that is not the certificate's
    other = os.path.join(srv.dir, "other-key.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", other],
                   check=True, capture_output=True)
    path = os.path.join(srv.dir, "mismatch.conf")
    with open(path, "w") as fp:
        fp.write(re.sub(r"(?m)^key = .*$", "key = " + other, text))
    r = fails(tern("--config", path, "config", "check"), 1)
    assert "does not match" in r.stderr, r.stderr
    r = fails(tern("--config", path, "serve"))
    # a data_dir that cannot be created (under a file)
    blocker = os.path.join(srv.dir, "a-file")
    open(blocker, "w").close()
    path = os.path.join(srv.dir, "datadir.conf")
    with open(path, "w") as fp:
        fp.write(text.replace("data_dir = " + srv.data, "data_dir = " + blocker + "/data"))
    r = fails(tern("--config", path, "config", "check"), 1)
    assert "data_dir" in r.stderr and "cannot be created" in r.stderr, r.stderr
    fails(tern("--config", path, "serve"))
    # a [server] user that does not exist
    path = os.path.join(srv.dir, "nouser.conf")
    with open(path, "w") as fp:
        fp.write(text.replace("[server]\n", "[server]\nuser = no-such-user-here\n", 1))
    r = fails(tern("--config", path, "config", "check"), 1)
    assert "no-such-user-here" in r.stderr, r.stderr
    # as root without [server] user: a warning, still exit 0
    r = ok(tern("--config", srv.conf, "config", "check"))
    if os.geteuid() == 0:
        assert "warning" in r.stderr and "[server] user" in r.stderr, r.stderr
    else:
        assert "warning" not in r.stderr, r.stderr


@t
def serve_exits_cleanly(f):
    srv = f.std(users=())
    status = srv.stop()
    assert status == 0, "SIGTERM: exit %s\n%s" % (status, srv.tail())
    srv.start()
    status = srv.stop(sig=2)  # SIGINT too
    assert status == 0, "SIGINT: exit %s\n%s" % (status, srv.tail())


@t
def serve_refuses_port_in_use(f):
    srv = f.std(users=())
    other = f.bare()
    other.ports = dict(srv.ports)
    with open(other.conf) as fp:
        text = fp.read()
    for s in srv.ports:
        text = re.sub(r"(?m)^%s = 127\.0\.0\.1:\d+$" % s, "%s = 127.0.0.1:%d" % (s, srv.port(s)), text)
    with open(other.conf, "w") as fp:
        fp.write(text)
    r = subprocess.run([TERN, "--config", other.conf, "serve"], capture_output=True, text=True, timeout=30)
    assert r.returncode > 0, "second server on the same ports: exit %d" % r.returncode
    assert "AddressSanitizer" not in r.stderr, r.stderr
    # The first one is unharmed.
    p = pop3(srv)
    p.quit()


suite.run(setup, teardown_all)
