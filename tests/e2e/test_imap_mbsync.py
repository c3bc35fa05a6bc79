"""A real IMAP client, mbsync (isync), syncs a mailbox both ways over
IMAPS: it downloads the INBOX and every folder, then uploads a folder
created locally (CREATE, APPEND) and a flag change, and a second run
finds nothing left to do."""

import os
import smtplib
import subprocess
import tempfile

from harness import PASSWORD, Server, Suite, certificate, stop_and_check
from imapcheck import imaplib_client

suite = Suite()
USER = "alice@example.test"


def setup():
    srv = Server()
    srv.add_user(USER)
    return srv.start()


def mbsync(rc, *args):
    r = subprocess.run(["mbsync", "-c", rc, *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    return r


def maildir_files(path):
    out = []
    for sub in ("cur", "new"):
        d = os.path.join(path, sub)
        if os.path.isdir(d):
            out += [os.path.join(d, f) for f in os.listdir(d)]
    return out


@suite.case
def mbsync_syncs_both_ways(srv):
    s = smtplib.SMTP("127.0.0.1", srv.port("smtp"))
    for i in range(5):
        s.sendmail("x@example.net", [USER], b"Subject: m%d\r\nFrom: x@example.net\r\n\r\nbody %d\r\n" % (i, i))
    s.quit()
    local = tempfile.mkdtemp(prefix="tern-mbsync-")
    os.makedirs(os.path.join(local, "mail"))
    rc = os.path.join(local, "mbsyncrc")
    with open(rc, "w") as f:
        # "localhost": mbsync checks the certificate's DNS names, not IPs.
        f.write("IMAPAccount t\nHost localhost\nPort %d\nUser %s\nPass \"%s\"\nSSLType IMAPS\n"
                "CertificateFile %s\nSystemCertificates no\n\n"
                "IMAPStore far\nAccount t\n\n"
                "MaildirStore near\nPath %s/mail/\nInbox %s/mail/INBOX\nSubFolders Verbatim\n\n"
                "Channel t\nFar :far:\nNear :near:\nPatterns *\nCreate Both\nExpunge Both\nSyncState *\n"
                % (srv.port("imaps"), USER, PASSWORD, certificate()[0], local, local))
    mbsync(rc, "-a")
    inbox = maildir_files(os.path.join(local, "mail", "INBOX"))
    assert len(inbox) == 5, inbox
    for name in ("Sent", "Drafts", "Trash", "Junk", "Archive"):
        assert os.path.isdir(os.path.join(local, "mail", name)), name
    # Upload: a new local folder with a message, and a message marked read.
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(local, "mail", "Projects", sub))
    with open(os.path.join(local, "mail", "Projects", "new", "1.local"), "w") as f:
        f.write("Subject: made here\r\n\r\nlocal body\r\n")
    first = sorted(inbox)[0]
    os.rename(first, os.path.join(local, "mail", "INBOX", "cur", os.path.basename(first).split(":")[0] + ":2,S"))
    mbsync(rc, "-a")
    m = imaplib_client(srv, USER)
    typ, data = m.select("Projects")
    assert typ == "OK" and data == [b"1"], (typ, data)
    typ, data = m.fetch("1", "(BODY.PEEK[TEXT])")
    assert data[0][1] == b"local body\r\n", data
    m.select("INBOX")
    typ, data = m.search(None, "SEEN")
    assert typ == "OK" and len(data[0].split()) == 1, data
    m.logout()
    # Nothing left: a second run changes nothing on either side.
    r = mbsync(rc, "-a", "-V")
    assert "far side: 5 messages" in r.stdout or "far side: 5 messages" in r.stderr, r.stdout[-1500:]


suite.run(setup, stop_and_check)
