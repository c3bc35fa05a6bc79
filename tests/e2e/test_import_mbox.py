#!/usr/bin/python3
"""tern import mbox: hand-made files in the forms the real exporters write,
read back over IMAP.

The samples follow each writer's format as documented:
- Google Takeout: mboxrd (RFC 4155 appendix; qmail's mbox(5) quoting:
  every line matching ^>*From  gets one more '>'), From_ lines
  "From <thread id>@xxx Www Mmm dd hh:mm:ss +0000 yyyy", labels in
  X-Gmail-Labels (commas between, a label with a comma in double quotes,
  non-ASCII ones as RFC 2047 words);
- Thunderbird: one mboxo file per folder ("From - Www Mmm dd hh:mm:ss
  yyyy", only "From " quoted), subfolders in "Name.sbd/", .msf index
  files beside them, X-Mozilla-Status (nsMsgMessageFlags: 0x1 read, 0x2
  replied, 0x4 marked, 0x8 expunged), X-Mozilla-Status2, X-Mozilla-Keys;
- mboxcl2 (Solaris mail, some Exchange-era converters): nothing quoted,
  Content-Length counts the body, Status/X-Status/X-Keywords as mutt and
  Dovecot write them (Status: R read, O old; X-Status: A answered,
  F flagged, T draft, D deleted).
Every expected body below is written by hand from those rules."""
import imaplib
import os
import pty
import pwd
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PASSWORD, TERN, Raw, Server, Suite, stop_and_check  # noqa: E402

USER = "user@example.test"


def crlf(s):
    return s.replace("\n", "\r\n").encode()


# --- Google Takeout (mboxrd) ---

TAKEOUT = (
    # 1: Inbox, read
    "From 1784371287376545831@xxx Sat Nov 14 07:25:23 +0000 2020\n"
    "X-GM-THRID: 1784371287376545831\n"
    "X-Gmail-Labels: Inbox,Opened,Important,Category Personal\n"
    "From: Ann <ann@example.org>\n"
    "To: user@example.test\n"
    "Subject: one\n"
    "Message-ID: <1@example.org>\n"
    "\n"
    "first\n"
    "\n"
    # 2: Sent
    "From 1784371287376545832@xxx Sun Nov 15 08:00:00 +0000 2020\n"
    "X-GM-THRID: 1784371287376545832\n"
    "X-Gmail-Labels: Sent,Opened\n"
    "From: user@example.test\n"
    "Subject: two\n"
    "Message-ID: <2@example.org>\n"
    "\n"
    "sent body\n"
    "\n"
    # 3: in the Inbox and a nested user label, starred, unread; quoted lines
    "From 1784371287376545833@xxx Mon Nov 16 09:30:00 +0000 2020\n"
    "X-Gmail-Labels: Work/Projects,Starred,Unread,Inbox\n"
    "From: Bob <bob@example.org>\n"
    "Subject: three\n"
    "Message-ID: <3@example.org>\n"
    "\n"
    ">From here on, quoted once\n"
    ">>From there, quoted twice\n"
    "From what I hear, an unquoted From line without a date stays\n"
    "\n"
    # 4: archived (no folder label) -> Archive
    "From 1784371287376545834@xxx Tue Nov 17 10:00:00 +0000 2020\n"
    "X-Gmail-Labels: Archived,Opened\n"
    "Subject: four\n"
    "Message-ID: <4@example.org>\n"
    "\n"
    "archived\n"
    "\n"
    # 5: spam, a label with a comma, an encoded label, folded field
    "From 1784371287376545835@xxx Wed Nov 18 11:00:00 +0000 2020\n"
    "X-Gmail-Labels: Spam,\"Family, Friends\",\n"
    " =?UTF-8?Q?Re=C3=A7us?=\n"
    "Subject: five\n"
    "Message-ID: <5@example.org>\n"
    "\n"
    "spam\n"
    "\n")

EXPECT_TAKEOUT = {
    # folder: [(subject, flags, internal date, body)]
    "INBOX": [("one", {"\\Seen"}, (2020, 11, 14, 7, 25, 23)),
              ("three", {"\\Flagged"}, (2020, 11, 16, 9, 30, 0))],
    "Sent": [("two", {"\\Seen"}, (2020, 11, 15, 8, 0, 0))],
    "Work/Projects": [("three", {"\\Flagged"}, (2020, 11, 16, 9, 30, 0))],
    "Archive": [("four", {"\\Seen"}, (2020, 11, 17, 10, 0, 0))],
    "Junk": [("five", set(), (2020, 11, 18, 11, 0, 0))],
    "Family, Friends": [("five", set(), (2020, 11, 18, 11, 0, 0))],
    "Re\u00e7us": [("five", set(), (2020, 11, 18, 11, 0, 0))],
}

BODY_THREE = crlf(
    "From: Bob <bob@example.org>\n"
    "Subject: three\n"
    "Message-ID: <3@example.org>\n"
    "\n"
    "From here on, quoted once\n"
    ">From there, quoted twice\n"
    "From what I hear, an unquoted From line without a date stays\n")

BODY_ONE = crlf(
    "X-GM-THRID: 1784371287376545831\n"
    "From: Ann <ann@example.org>\n"
    "To: user@example.test\n"
    "Subject: one\n"
    "Message-ID: <1@example.org>\n"
    "\n"
    "first\n")

# --- Thunderbird (mboxo, one file per folder) ---

TB_INBOX = (
    "From - Mon Jan  1 10:00:00 2024\n"
    "X-Mozilla-Status: 0001\n"
    "X-Mozilla-Status2: 00000000\n"
    "X-Mozilla-Keys: $label1 work                                                    \n"
    "From: Carol <carol@example.org>\n"
    "Subject: tb one\n"
    "Message-ID: <tb1@example.org>\n"
    "\n"
    ">From the desk of Carol\n"
    ">>From an old quote\n"
    "\n"
    "From - Tue Jan  2 11:00:00 2024\n"
    "X-Mozilla-Status: 0006\n"
    "X-Mozilla-Status2: 00000000\n"
    "From: Dan <dan@example.org>\n"
    "Subject: tb two\n"
    "Message-ID: <tb2@example.org>\n"
    "\n"
    "replied and starred\n"
    "\n")

TB_INBOX_BODY_ONE = crlf(
    "From: Carol <carol@example.org>\n"
    "Subject: tb one\n"
    "Message-ID: <tb1@example.org>\n"
    "\n"
    "From the desk of Carol\n"
    ">>From an old quote\n")

TB_SUB = (
    "From - Wed Jan  3 12:00:00 2024\n"
    "X-Mozilla-Status: 0009\n"
    "From: Eve <eve@example.org>\n"
    "Subject: tb sub\n"
    "\n"
    "in a subfolder, deleted in Thunderbird\n"
    "\n")

# --- mboxcl2: Content-Length, nothing quoted ---

CL2_BODY = ("unquoted line follows\n"
            "\n"
            "From this moment on Wed Jan  3 12:00:00 2024 it looks like a From_ line\n")
CL2 = (
    "From sender@example.org Thu Feb  1 08:00:00 2024\n"
    "Status: RO\n"
    "X-Status: AF\n"
    "X-Keywords: $Work Later\n"
    "Content-Length: %d\n"
    "Subject: cl2 one\n"
    "\n"
    "%s"
    "\n"
    "From sender@example.org Fri Feb  2 09:00:00 2024 +0100\n"
    "Status: O\n"
    "Content-Length: 5\n"
    "Subject: cl2 two\n"
    "\n"
    "five\n"
    "\n") % (len(CL2_BODY), CL2_BODY)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(text.encode() if isinstance(text, str) else text)
    return path


def login(srv):
    imap = imaplib.IMAP4("127.0.0.1", srv.port("imap"))
    imap.login(USER, PASSWORD)
    return imap


def fetch_all(imap, mailbox):
    """[(subject, flags, date tuple UTC, body)] in UID order."""
    if mailbox.isascii():
        typ, data = imap.select('"%s"' % mailbox)
    else:
        enc = mailbox.encode("utf-7").replace(b"+", b"&").decode()
        typ, data = imap.select(enc)
    assert typ == "OK", (mailbox, data)
    typ, data = imap.uid("FETCH", "1:*", "(FLAGS INTERNALDATE BODY.PEEK[])")
    assert typ == "OK", data
    out = []
    for item in data:
        if not isinstance(item, tuple):
            continue
        head, body = item
        head = head.decode()
        flags = set(re.search(r"FLAGS \(([^)]*)\)", head).group(1).split()) - {"\\Recent"}
        date = re.search(r'INTERNALDATE "([^"]+)"', head).group(1)
        t = imaplib.Internaldate2tuple(('INTERNALDATE "%s"' % date).encode())
        utc = tuple(time.gmtime(time.mktime(t))[:6])
        subject = re.search(rb"Subject: ([^\r\n]*)", body)
        out.append((subject.group(1).decode() if subject else None, flags, utc, body))
    return out


suite = Suite()


@suite.case
def takeout_labels_flags_dates_and_unquoting(srv):
    path = write(os.path.join(srv.dir, "Takeout", "Mail", "All mail Including Spam and Trash.mbox"), TAKEOUT)
    r = srv.cli("import", "mbox", USER, path, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "total: 5 messages read, 8 added, 0 already there" in r.stdout, r.stdout
    imap = login(srv)
    for folder, want in EXPECT_TAKEOUT.items():
        got = fetch_all(imap, folder)
        assert [(g[0], g[1], g[2]) for g in got] == want, (folder, got)
    got = fetch_all(imap, "INBOX")
    assert got[0][3] == BODY_ONE, got[0][3]
    assert got[1][3] == BODY_THREE, got[1][3]
    # no folder named after the file
    typ, data = imap.list('""', "*")
    assert not any(b"All mail" in d for d in data), data
    imap.logout()
    # idempotent: nothing added, every copy found
    r = srv.cli("import", "mbox", USER, path, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "total: 5 messages read, 0 added, 8 already there" in r.stdout, r.stdout


@suite.case
def resumes_after_an_interruption(srv):
    full = TAKEOUT.encode()
    # cut in the middle of message 4: an import killed there had taken 1-3
    cut = full.index(b"archived")
    part = write(os.path.join(srv.dir, "part", "All.mbox"), full[:cut])
    r = srv.cli("import", "mbox", USER, part, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    path = write(os.path.join(srv.dir, "full", "All.mbox"), full)
    r = srv.cli("import", "mbox", USER, path, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    # messages 1-3 (four copies) were in; the cut message 4 differs in size
    assert "total: 5 messages read, 4 added, 4 already there" in r.stdout, r.stdout
    imap = login(srv)
    # the cut copy of message 4 stays (it was a message of its own)
    assert len(fetch_all(imap, "Archive")) == 2
    assert [g[0] for g in fetch_all(imap, "INBOX")] == ["one", "three"]
    imap.logout()


@suite.case
def thunderbird_tree(srv):
    root = os.path.join(srv.dir, "Local Folders")
    write(os.path.join(root, "Inbox"), TB_INBOX)
    write(os.path.join(root, "Inbox.msf"), "// <!-- <mdb:mork:z v=\"1.4\"/> -->\n")
    write(os.path.join(root, "Trash"), "")
    write(os.path.join(root, "Archives"), "")
    write(os.path.join(root, "Archives.sbd", "2024"), TB_SUB)
    write(os.path.join(root, "msgFilterRules.dat"), "version=\"9\"\n")
    r = srv.cli("import", "mbox", USER, root, "--format", "mboxo", check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "total: 3 messages read, 3 added" in r.stdout, r.stdout
    assert "msgFilterRules.dat: not an mbox file" in r.stdout, r.stdout
    imap = login(srv)
    inbox = fetch_all(imap, "INBOX")
    assert [(g[0], g[1], g[2]) for g in inbox] == [
        ("tb one", {"\\Seen", "$label1", "work"}, (2024, 1, 1, 10, 0, 0)),
        ("tb two", {"\\Answered", "\\Flagged"}, (2024, 1, 2, 11, 0, 0))], inbox
    assert inbox[0][3] == TB_INBOX_BODY_ONE, inbox[0][3]
    sub = fetch_all(imap, "Archive/2024")
    assert [(g[0], g[1]) for g in sub] == [("tb sub", {"\\Seen", "\\Deleted"})], sub
    assert b"X-Mozilla" not in sub[0][3]
    typ, data = imap.list('""', "*")
    names = b"\n".join(d for d in data if d)
    assert b"Archives" not in names and b"Inbox.msf" not in names, names
    imap.logout()


@suite.case
def readpst_recursive_tree(srv):
    # readpst -r (libpst, for Outlook and Exchange .pst files): a directory
    # per folder, its messages in a file named "mbox" inside it
    root = os.path.join(srv.dir, "pst")
    write(os.path.join(root, "Inbox", "mbox"), TB_INBOX)
    write(os.path.join(root, "Inbox", "Project", "mbox"), TB_SUB)
    write(os.path.join(root, "Sent Items", "mbox"), CL2)
    r = srv.cli("import", "mbox", USER, root, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "total: 5 messages read, 5 added" in r.stdout, r.stdout
    imap = login(srv)
    assert [g[0] for g in fetch_all(imap, "INBOX")] == ["tb one", "tb two"]
    assert [g[0] for g in fetch_all(imap, "INBOX/Project")] == ["tb sub"]
    assert [g[0] for g in fetch_all(imap, "Sent")] == ["cl2 one", "cl2 two"]
    imap.logout()
    # one such file on its own: the folder of its directory
    r = srv.cli("import", "mbox", USER, os.path.join(root, "Inbox", "Project", "mbox"), check=False)
    assert "Project: 1 added" in r.stdout, r.stdout + r.stderr


@suite.case
def mboxcl2_content_length(srv):
    path = write(os.path.join(srv.dir, "old.mbox"), CL2)
    r = srv.cli("import", "mbox", USER, path, "--folder", "Old/Mail", check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "total: 2 messages read, 2 added" in r.stdout, r.stdout
    imap = login(srv)
    got = fetch_all(imap, "Old/Mail")
    assert [(g[0], g[1], g[2]) for g in got] == [
        ("cl2 one", {"\\Seen", "\\Answered", "\\Flagged", "$Work", "Later"}, (2024, 2, 1, 8, 0, 0)),
        ("cl2 two", set(), (2024, 2, 2, 8, 0, 0))], got
    assert got[0][3] == crlf("Subject: cl2 one\n\n" + CL2_BODY), got[0][3]
    assert got[1][3] == crlf("Subject: cl2 two\n\nfive\n"), got[1][3]
    imap.logout()


@suite.case
def connected_session_sees_new_mail(srv):
    imap = login(srv)
    typ, data = imap.select("INBOX")
    assert data == [b"0"], data
    path = write(os.path.join(srv.dir, "Inbox"), TB_INBOX)
    r = srv.cli("import", "mbox", USER, path, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    typ, _ = imap.noop()
    assert typ == "OK"
    assert imap.untagged_responses.get("EXISTS", [b"0"])[-1] == b"2", imap.untagged_responses
    imap.logout()
    # an IDLE client sees an import when it starts IDLE again
    raw = Raw(srv.port("imap"))
    raw.line()
    for cmd in ('a LOGIN "%s" "%s"' % (USER, PASSWORD), "b SELECT INBOX"):
        raw.send(cmd + "\r\n")
        while not raw.line().startswith(cmd[0] + " OK"):
            pass
    raw.send("c IDLE\r\n")
    while raw.line() != "+ idling":
        pass
    r = srv.cli("import", "mbox", USER, write(os.path.join(srv.dir, "more", "Inbox"), TB_SUB), check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    raw.send("DONE\r\nd IDLE\r\n")
    seen = []
    while "* 3 EXISTS" not in seen:
        seen.append(raw.line())
    raw.send("DONE\r\ne LOGOUT\r\n")
    raw.close()


@suite.case
def quota_and_not_an_mbox(srv):
    path = write(os.path.join(srv.dir, "Inbox"), TB_INBOX)
    srv.cli("user", "set", USER, "--quota", "100")
    r = srv.cli("import", "mbox", USER, path, check=False)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "over quota" in r.stderr and "--quota" in r.stderr, r.stderr
    bad = write(os.path.join(srv.dir, "notes.txt"), "Dear diary\n")
    r = srv.cli("import", "mbox", USER, bad, check=False)
    assert r.returncode == 1 and "not an mbox file" in r.stderr, r.stdout + r.stderr


@suite.case
def files_belong_to_the_server_user(srv):
    if os.geteuid() != 0:
        print("# skipped: files_belong_to_the_server_user: not root")
        return
    nobody = pwd.getpwnam("nobody").pw_uid
    with open(srv.conf) as fp:
        text = fp.read()
    # for the CLI only: the running server keeps its own settings
    with open(srv.conf, "w") as fp:
        fp.write(text.replace("[server]\n", "[server]\nuser = nobody\n", 1))
    path = write(os.path.join(srv.dir, "Inbox"), TB_INBOX)
    r = srv.cli("import", "mbox", USER, path, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    mail = os.path.join(srv.data, "mail")
    seen = 0
    for top, dirs, files in os.walk(mail):
        for name in dirs + files:
            st = os.lstat(os.path.join(top, name))
            assert st.st_uid == nobody, (os.path.join(top, name), st.st_uid)
            seen += 1
    assert seen >= 4, seen
    assert os.stat(os.path.join(srv.data, "spool")).st_uid == nobody
    with open(srv.conf, "w") as fp:
        fp.write(text)


@suite.case
def over_max_message_size_is_skipped(srv):
    big = ("From - Mon Jan  1 10:00:00 2024\nSubject: big\n\n" + ("x" * 99 + "\n") * 700 + "\n")
    path = write(os.path.join(srv.dir, "Big"), big + TB_SUB)
    with open(srv.conf) as fp:
        text = fp.read()
    with open(srv.conf, "w") as fp:
        fp.write(text.replace("max_message_size = 50M", "max_message_size = 64K"))
    r = srv.cli("import", "mbox", USER, path, check=False)
    with open(srv.conf, "w") as fp:
        fp.write(text)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "total: 2 messages read, 1 added, 0 already there, 1 over max_message_size skipped" in r.stdout, r.stdout
    imap = login(srv)
    assert [g[0] for g in fetch_all(imap, "Big")] == ["tb sub"]
    imap.logout()


@suite.case
def progress_line_on_a_terminal(srv):
    path = write(os.path.join(srv.dir, "Inbox"), TB_INBOX)
    master, slave = pty.openpty()
    try:
        r = subprocess.run([TERN, "--config", srv.conf, "import", "mbox", USER, path],
                           stdout=subprocess.PIPE, stderr=slave, text=True, timeout=60)
        os.close(slave)
        slave = None
        err = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            err += chunk
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    assert r.returncode == 0, r.stdout
    # the progress line: carriage return, the file, messages so far, share read
    assert re.search(rb"\r" + re.escape(path.encode()) + rb": \d+ messages, \d+%", err), err
    assert "total: 2 messages read, 2 added" in r.stdout, r.stdout
    # not on a pipe
    r = srv.cli("import", "mbox", USER, path)
    assert "%" not in r.stderr, r.stderr


def setup():
    srv = Server(max_message_size="50M")
    srv.add_user(USER)
    return srv.start()


if __name__ == "__main__":
    suite.run(setup, stop_and_check)
