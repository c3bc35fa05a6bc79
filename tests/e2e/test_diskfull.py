"""Disk full: the server runs with a file size limit (RLIMIT_FSIZE), so
writing a message past it fails with EFBIG exactly as a full disk fails a
write.  The client must get 452 4.3.1, nothing may be half-stored, and the
server must go on serving (and keep earlier mail)."""

import os
import poplib
import resource
import smtplib
import subprocess

from harness import PASSWORD, Server, Suite, TERN, stop_and_check

suite = Suite()
LIMIT = 256 * 1024


class LimitedServer(Server):
    def start(self):
        # The limit applies to the server only, not to the CLI or the test.
        orig = subprocess.Popen

        def popen(*args, **kw):
            kw["preexec_fn"] = lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))
            return orig(*args, **kw)
        subprocess.Popen = popen
        try:
            return super().start()
        finally:
            subprocess.Popen = orig


def setup():
    srv = LimitedServer(max_message_size="10M")
    srv.add_user("alice@example.test")
    return srv.start()


def message(size):
    body = ("x" * 76 + "\r\n") * (size // 78 + 1)
    return ("From: a@example.net\r\nTo: alice@example.test\r\nSubject: big\r\n\r\n" + body).encode()


def retrieve_all(srv):
    p = poplib.POP3("127.0.0.1", srv.port("pop3"))
    p.user("alice@example.test")
    p.pass_(PASSWORD)
    n = len(p.list()[1])
    msgs = [b"\r\n".join(p.retr(i + 1)[1]) for i in range(n)]
    p.quit()
    return msgs


@suite.case
def message_too_big_for_disk_gets_452_and_nothing_stored(srv):
    s = smtplib.SMTP("127.0.0.1", srv.port("smtp"))
    s.ehlo("client.example.net")
    s.sendmail("a@example.net", ["alice@example.test"], message(1000))
    try:
        s.sendmail("a@example.net", ["alice@example.test"], message(LIMIT * 2))
        raise AssertionError("a message past the file size limit was accepted")
    except smtplib.SMTPDataError as e:
        assert e.smtp_code == 452, e
        assert b"4.3.1" in e.smtp_error, e
    # The session goes on, and so does the server.
    s.sendmail("a@example.net", ["alice@example.test"], message(2000))
    s.quit()
    msgs = retrieve_all(srv)
    assert len(msgs) == 2, len(msgs)
    assert all(len(m) < 10000 for m in msgs)
    spool = os.path.join(srv.data, "spool")
    assert os.listdir(spool) == [], os.listdir(spool)


suite.run(setup, stop_and_check)
