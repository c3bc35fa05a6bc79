#!/usr/bin/python3
"""tern export maildir and tern export mbox.

user export/import: one account moved to a second Tern in one tar file,
listed by GNU tar, and seen there the same over IMAP and POP3.

maildir: mail is put into Tern through IMAP (APPEND with flags, dates and
a keyword, a folder with hierarchy, a subscription, an expunge that leaves
a UID gap), exported, and the reference Dovecot from Debian is started on
the exported Maildir (the same Dovecot setup as test_import_maildir.py).
Dovecot must then show over IMAP what Tern showed: UIDVALIDITY, UIDs,
flags, keywords, internal dates, BODY[] byte for byte, subscriptions; and
over POP3 the UIDLs Tern served.

mbox: the export is checked by hand against the mboxrd rules (From_ line
with the internal date in asctime form, "From " lines quoted, a blank line
after each message, Status/X-Status/X-Keywords) and imported back into
another user, who must see the same messages."""
import imaplib
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PASSWORD, Server, Suite, stop_and_check  # noqa: E402
from test_import_maildir import DOVECOT_USER, Dovecot, message, snapshot, subscribed, uidls  # noqa: E402

USER = "user@example.test"
OTHER = "other@example.test"


def fill_tern(srv):
    imap = imaplib.IMAP4("127.0.0.1", srv.port("imap"))
    imap.login(USER, PASSWORD)
    assert imap.create("Work/Reports")[0] == "OK"
    assert imap.subscribe("Work/Reports")[0] == "OK"
    # a name beyond ASCII: modified UTF-7 on disk and in subscriptions, as
    # Dovecot 2.3 writes them (".Re&AOc-us", "Re&AOc-us\tSub")
    assert imap.create('"Re&AOc-us/Sub"')[0] == "OK"
    assert imap.subscribe('"Re&AOc-us/Sub"')[0] == "OK"
    t0 = time.mktime((2025, 3, 4, 5, 6, 7, 0, 0, -1))
    for i in range(1, 6):
        assert imap.append("INBOX", None, t0 + i * 3600, message(i, "inbox %d" % i))[0] == "OK"
    # a body line that starts with "From ": quoted in the mbox export
    body = message(6, "report 6").replace(b"Second line.", b"From the start")
    assert imap.append("Work/Reports", "(\\Seen $Label1)", t0 + 6 * 3600, body)[0] == "OK"
    assert imap.append("Work/Reports", None, t0 + 7 * 3600, message(7, "report 7"))[0] == "OK"
    assert imap.append('"Re&AOc-us/Sub"', "(\\Flagged)", t0 + 8 * 3600, message(8, "recu 8"))[0] == "OK"
    imap.select("INBOX")
    imap.uid("STORE", "1", "+FLAGS", "(\\Seen)")
    imap.uid("STORE", "2", "+FLAGS", "(\\Flagged $Label1 Later)")
    imap.uid("STORE", "4", "+FLAGS", "(\\Answered \\Seen \\Draft)")
    imap.uid("STORE", "3", "+FLAGS", "(\\Deleted)")
    imap.expunge()
    imap.uid("STORE", "5", "+FLAGS", "(\\Deleted)")  # stays, flagged deleted
    want = {"INBOX": snapshot(imap, "INBOX"), "Work/Reports": snapshot(imap, "Work/Reports"),
            "Re&AOc-us/Sub": snapshot(imap, "Re&AOc-us/Sub")}
    subs = subscribed(imap)
    imap.logout()
    return want, subs


suite = Suite()


@suite.case
def maildir_export_served_by_dovecot(fx):
    srv, dc = fx
    want, subs = fill_tern(srv)
    assert sorted(want["INBOX"][1]) == [1, 2, 4, 5], want["INBOX"][1].keys()
    tern_uidls = uidls(srv.port("pop3"), USER)
    assert len(tern_uidls) == 4, tern_uidls

    target = os.path.join(dc.mail, DOVECOT_USER)
    r = srv.cli("export", "maildir", USER, target, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"total: \d+ folders, 7 messages", r.stdout), r.stdout
    # file names by the Maildir rules: ":2," then flag letters in ASCII order
    names = sorted(os.listdir(os.path.join(target, "cur")))
    assert names[1].endswith(":2,Fa") or names[1].endswith(":2,Fab"), names
    assert any(n.endswith(":2,DRS") for n in names), names
    st = os.stat(os.path.join(target, "cur", names[0]))
    assert int(st.st_mtime) == int(time.mktime((2025, 3, 4, 6, 6, 7, 0, 0, -1))), st.st_mtime
    assert os.path.exists(os.path.join(target, ".Work.Reports", "maildirfolder"))
    assert os.path.isdir(os.path.join(target, ".Re&AOc-us.Sub", "cur"))
    with open(os.path.join(target, "subscriptions"), "rb") as f:
        assert b"\nRe&AOc-us\tSub\n" in f.read()
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", "mail:mail", target], check=True)
    dc.start()

    imap = imaplib.IMAP4("127.0.0.1", dc.imap)
    imap.login(DOVECOT_USER, PASSWORD)
    for mailbox, (uidvalidity, msgs) in want.items():
        got_uv, got = snapshot(imap, mailbox)
        assert got_uv == uidvalidity, (mailbox, got_uv, uidvalidity)
        assert sorted(got) == sorted(msgs), (mailbox, sorted(got), sorted(msgs))
        for uid, (flags, date, body) in msgs.items():
            assert got[uid][0] == flags, (mailbox, uid, got[uid][0], flags)
            assert got[uid][1] == date, (mailbox, uid, got[uid][1], date)
            assert got[uid][2] == body, (mailbox, uid)
    typ, data = imap.status("INBOX", "(UIDNEXT)")
    assert b"UIDNEXT 6" in data[0], data
    assert subs <= subscribed(imap), (subs, subscribed(imap))
    imap.logout()
    got_uidls = uidls(dc.pop3, DOVECOT_USER)
    assert got_uidls == tern_uidls, (got_uidls, tern_uidls)


@suite.case
def mbox_export_and_back(fx):
    srv, dc = fx
    want, _ = fill_tern(srv)
    target = os.path.join(srv.dir, "export-mbox")
    r = srv.cli("export", "mbox", USER, target, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    with open(os.path.join(target, "Work", "Reports.mbox"), "rb") as f:
        text = f.read()
    # By hand from the mboxrd rules: the From_ line (asctime of the
    # internal date, UTC), LF line ends, "From " quoted, the flags in
    # Status/X-Status/X-Keywords at the end of the header, an empty line
    # after each message.
    t6 = time.gmtime(time.mktime((2025, 3, 4, 11, 6, 7, 0, 0, -1)))
    first = ("From MAILER-DAEMON %s\n" % time.strftime("%a %b %e %H:%M:%S %Y", t6)).encode()
    assert text.startswith(first), text[:80]
    assert b"\r\n" not in text
    assert b"\n>From the start\n" in text, text
    assert b"Date: Mon, 7 Dec 2026 10:06:00 +0100\nStatus: RO\nX-Keywords: $Label1\n\nBody of message 6.\n" in text, text
    assert text.endswith(b"Second line.\n\n"), text[-40:]
    assert os.path.exists(os.path.join(target, "INBOX.mbox"))
    assert os.path.exists(os.path.join(target, "Re\u00e7us", "Sub.mbox"))

    srv.add_user(OTHER)
    r = srv.cli("import", "mbox", OTHER, target, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    imap = imaplib.IMAP4("127.0.0.1", srv.port("imap"))
    imap.login(OTHER, PASSWORD)
    for mailbox, (_, msgs) in want.items():
        _, got = snapshot(imap, mailbox)
        assert [(v[0], v[1], v[2]) for _, v in sorted(got.items())] == \
            [(v[0], v[1], v[2]) for _, v in sorted(msgs.items())], (mailbox, got, msgs)
    imap.logout()


@suite.case
def refuses_a_directory_with_files(fx):
    srv, dc = fx
    target = os.path.join(srv.dir, "full")
    os.makedirs(target)
    open(os.path.join(target, "x"), "w").close()
    r = srv.cli("export", "maildir", USER, target, check=False)
    assert r.returncode == 1 and "not empty" in r.stderr, r.stdout + r.stderr
    r = srv.cli("export", "mbox", "nobody@example.test", os.path.join(srv.dir, "n"), check=False)
    assert r.returncode == 1 and "no such user" in r.stderr, r.stdout + r.stderr


@suite.case
def user_export_and_import_on_another_server(fx):
    srv, dc = fx
    want, subs = fill_tern(srv)
    tern_uidls = uidls(srv.port("pop3"), USER)
    srv.cli("user", "set", USER, "--quota", "10M", "--pop3", "off")
    out = srv.cli("user", "app-password", "add", USER, "phone", "--protocols", "imap").stdout
    apppw = re.search(r"^password: ([a-z ]{19})$", out, re.M).group(1)
    archive = os.path.join(srv.dir, "user.tar")
    r = srv.cli("user", "export", USER, archive, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert os.stat(archive).st_mode & 0o777 == 0o600
    # a plain ustar file: GNU tar lists it
    names = subprocess.run(["tar", "tf", archive], capture_output=True, text=True, check=True).stdout.split()
    assert names[0] == "user.json" and "mail/index.db" in names, names
    assert len([n for n in names if n.startswith("mail/msg/")]) == 7, names

    other = Server()
    try:
        other.start()
        r = other.cli("user", "import", archive, check=False)
        assert r.returncode == 0, r.stdout + r.stderr
        shown = other.cli("user", "show", USER).stdout
        assert re.search(r"quota\W+10M", shown, re.I) and re.search(r"pop3\W+off", shown, re.I), shown
        imap = imaplib.IMAP4("127.0.0.1", other.port("imap"))
        imap.login(USER, PASSWORD)
        for mailbox, (uidvalidity, msgs) in want.items():
            got_uv, got = snapshot(imap, mailbox)
            assert (got_uv, got) == (uidvalidity, msgs), mailbox
        assert subs <= subscribed(imap)
        imap.logout()
        imap = imaplib.IMAP4("127.0.0.1", other.port("imap"))
        imap.login(USER, apppw)
        imap.logout()
        # a second import is refused, nothing changes
        r = other.cli("user", "import", archive, check=False)
        assert r.returncode == 1 and "exists already" in r.stderr, r.stdout + r.stderr
        # under another address, without the app passwords
        r = other.cli("user", "import", archive, OTHER, "--no-app-passwords", check=False)
        assert r.returncode == 0, r.stdout + r.stderr
        srv.cli("user", "set", USER, "--pop3", "on")
        other.cli("user", "set", OTHER, "--pop3", "on")
        assert uidls(other.port("pop3"), OTHER) == tern_uidls
        imap = imaplib.IMAP4("127.0.0.1", other.port("imap"))
        try:
            imap.login(OTHER, apppw)
            raise AssertionError("the app password came along")
        except imaplib.IMAP4.error:
            pass
    finally:
        stop_and_check(other)


@suite.case
def user_import_refuses_a_hostile_archive(fx):
    srv, dc = fx
    import io
    import json
    import tarfile

    def archive(path, entries):
        with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as t:
            for name, data, kind in entries:
                ti = tarfile.TarInfo(name)
                ti.type = kind
                ti.size = len(data) if kind == tarfile.REGTYPE else 0
                t.addfile(ti, io.BytesIO(data) if kind == tarfile.REGTYPE else None)

    user = json.dumps({"format": "tern-user 1", "address": "evil@example.test",
                       "password_hash": "$2y$05$abcdefghijklmnopqrstuu5s2v8.1h8c9HkqB1NpT1rYhSmc6eK2a"}).encode()
    outside = os.path.join(srv.dir, "escaped")
    for n, entries in enumerate((
            [("user.json", user, tarfile.REGTYPE), ("mail/msg/../../../../escaped", b"x", tarfile.REGTYPE)],
            [("user.json", user, tarfile.REGTYPE), ("/tmp/escaped", b"x", tarfile.REGTYPE)],
            [("user.json", user, tarfile.REGTYPE), ("mail/msg/link", b"", tarfile.SYMTYPE)],
            [("mail/index.db", b"x", tarfile.REGTYPE), ("user.json", user, tarfile.REGTYPE)])):
        path = os.path.join(srv.dir, "evil%d.tar" % n)
        archive(path, entries)
        r = srv.cli("user", "import", path, check=False)
        assert r.returncode == 1, (n, r.stdout + r.stderr)
        assert not os.path.exists(outside)
        shown = srv.cli("user", "show", "evil@example.test", check=False)
        assert shown.returncode != 0, (n, shown.stdout)
    # a GNU tar archive of a real export unpacks and packs again: the format is plain ustar
    want, _ = fill_tern(srv)
    archive_ok = os.path.join(srv.dir, "user.tar")
    assert srv.cli("user", "export", USER, archive_ok).returncode == 0
    unpacked = os.path.join(srv.dir, "unpacked")
    os.makedirs(unpacked)
    subprocess.run(["tar", "xf", archive_ok, "-C", unpacked], check=True)
    repacked = os.path.join(srv.dir, "repacked.tar")
    subprocess.run(["tar", "cf", repacked, "--format=ustar", "-C", unpacked, "user.json", "mail"], check=True)
    r = srv.cli("user", "import", repacked, OTHER, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    imap = imaplib.IMAP4("127.0.0.1", srv.port("imap"))
    imap.login(OTHER, PASSWORD)
    assert snapshot(imap, "INBOX") == want["INBOX"]
    imap.logout()


def setup():
    if shutil.which("dovecot") is None or not os.path.exists("/usr/lib/dovecot/imap"):
        raise AssertionError("the reference Dovecot is missing: run scripts/deps.sh")
    srv = Server()
    srv.add_user(USER)
    srv.start()
    return srv, Dovecot()


def teardown(fx):
    srv, dc = fx
    dc.cleanup()
    stop_and_check(srv)


if __name__ == "__main__":
    suite.run(setup, teardown)
