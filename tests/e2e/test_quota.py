"""Quota (tern user add --quota): GETQUOTAROOT reports it (RFC 9208),
IMAP APPEND and COPY past it get NO [OVERQUOTA], and SMTP refuses a
recipient whose mailbox is full with 452 4.2.2 (temporary: the sender keeps
the message) while a recipient with room still gets the message."""

import imaplib
import smtplib

from harness import PASSWORD, Server, Suite, stop_and_check

suite = Suite()
FULL = "full@example.test"
ROOMY = "roomy@example.test"
BODY = b"Subject: filler\r\n\r\n" + b"x" * 1500 + b"\r\n"


def setup():
    srv = Server()
    srv.cli("user", "add", FULL, "--password-stdin", "--quota", "2K", input=PASSWORD + "\n")
    srv.cli("user", "add", ROOMY, "--password-stdin", input=PASSWORD + "\n")
    return srv.start()


def imap_login(srv, user):
    m = imaplib.IMAP4("127.0.0.1", srv.port("imap"))
    m.login(user, PASSWORD)
    return m


@suite.case
def getquotaroot_reports_usage_and_limit(srv):
    m = imap_login(srv, FULL)
    typ, data = m.append("INBOX", None, None, BODY)
    assert typ == "OK", data
    typ, data = m.getquotaroot("INBOX")
    assert typ == "OK", data
    roots, quotas = data
    assert roots == [b'"INBOX" ""'] or roots == [b'INBOX ""'], roots
    # 1,521 octets used: 2 KiB (rounded up), limit 2 KiB.
    assert quotas == [b'"" (STORAGE 2 2)'], quotas
    m.logout()


@suite.case
def append_past_the_quota_is_overquota(srv):
    m = imap_login(srv, FULL)
    assert m.append("INBOX", None, None, BODY)[0] == "OK"
    typ, data = m.append("INBOX", None, None, BODY)
    assert typ == "NO" and b"[OVERQUOTA]" in data[0], (typ, data)
    m.select("INBOX")
    typ, data = m.copy("1", "Archive")
    assert typ == "NO" and b"[OVERQUOTA]" in data[0], (typ, data)
    m.logout()


@suite.case
def smtp_refuses_a_full_mailbox_and_delivers_to_others(srv):
    m = imap_login(srv, FULL)
    assert m.append("INBOX", None, None, BODY)[0] == "OK"
    m.logout()
    s = smtplib.SMTP("127.0.0.1", srv.port("smtp"))
    s.ehlo("mx.example.net")
    # The announced size does not fit in what is left (2048 - 1521).
    s.mail("sender@example.net", ["SIZE=%d" % len(BODY)])
    code, msg = s.rcpt(FULL)
    assert code == 452 and b"4.2.2" in msg, (code, msg)
    code, msg = s.rcpt(ROOMY)
    assert code == 250, (code, msg)
    code, msg = s.data(BODY)
    assert code == 250, (code, msg)
    s.quit()
    r = imap_login(srv, ROOMY)
    typ, data = r.select("INBOX")
    assert data == [b"1"], data
    r.logout()


suite.run(setup, stop_and_check)
