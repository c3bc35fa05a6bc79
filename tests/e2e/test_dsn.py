"""End-to-end tests of the DSN extension (RFC 3461) on submission and
port 25: NOTIFY, RET, ENVID and ORCPT are kept with a queued message,
handed on to a next server that offers DSN, and acted on otherwise; the
notices are parsed as RFC 3464 reports.  Uses test_delivery's fixture: a
loopback DNS server, Tern "A" sending, Tern "B" and smtp-sink receiving."""

import email
import email.policy
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Suite  # noqa: E402
from mailcheck import submission  # noqa: E402
from test_delivery import SINK, Fixture, dsn_fields, inbox, queue_list, wait  # noqa: E402

suite = Suite()


def send(a, rcpts, mail_opts="", subject="dsn", body="Body line.\r\n"):
    """Submits as alice with raw MAIL/RCPT parameters; rcpts is a list of
    (address, "NOTIFY=... ORCPT=..." or "")."""
    s = submission(a, "alice@example.test")
    try:
        assert "dsn" in s.esmtp_features, s.ehlo_resp
        code, text = s.docmd("MAIL FROM:<alice@example.test>%s" % ((" " + mail_opts) if mail_opts else ""))
        assert code == 250, (code, text)
        for addr, params in rcpts:
            code, text = s.docmd("RCPT TO:<%s>%s" % (addr, (" " + params) if params else ""))
            assert code == 250, (addr, code, text)
        msg = ("From: <alice@example.test>\r\nTo: %s\r\nSubject: %s\r\n\r\n%s"
               % (", ".join(a for a, _ in rcpts), subject, body)).encode()
        code, text = s.data(msg)
        assert code == 250, (code, text)
    finally:
        s.quit()


def case(fn):
    suite.case(fn)
    return fn


@case
def notify_never_means_no_bounce(f):
    a = f.sender()
    f.destination()
    off = os.path.getsize(a.log_path)
    send(a, [("ghost@example.net", "NOTIFY=NEVER")])
    wait("queue empty", lambda: "queue is empty" in queue_list(a))
    log = open(a.log_path, "rb").read()[off:].decode("utf-8", "replace")
    assert "status=bounced" in log, log[-1500:]
    time.sleep(0.5)
    assert inbox(a, "alice@example.test") == [], "a bounce despite NOTIFY=NEVER"


@case
def relayed_notice_from_a_server_without_dsn(f):
    """NOTIFY=SUCCESS to a server that does not offer DSN (smtp-sink -N):
    Tern says "relayed", with the ENVID and ORCPT the client gave."""
    a = f.sender()
    f.sink("127.0.0.5", "-N")
    send(a, [("x@sink.example", "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;orig+2Bx@example.org")],
         mail_opts="RET=HDRS ENVID=env-42")
    notes = wait("relayed notice", lambda: inbox(a, "alice@example.test"))
    per_msg, per_rcpt, headers = dsn_fields(notes[0])
    assert per_msg["Original-Envelope-Id"] == "env-42", per_msg
    assert per_rcpt[0]["Action"] == "relayed", per_rcpt[0]
    assert per_rcpt[0]["Status"] == "2.0.0", per_rcpt[0]
    assert per_rcpt[0]["Original-Recipient"] == "rfc822;orig+x@example.org", per_rcpt[0]["Original-Recipient"]
    assert "Subject: dsn" in headers


@case
def success_handed_on_to_a_dsn_server(f):
    """B offers DSN: A passes NOTIFY=SUCCESS on and says nothing itself; B,
    the final destination, makes the "delivered" notice (queued there for
    alice's domain)."""
    a = f.sender()
    b = f.destination()
    b.cli("domain", "del", "example.test")   # alice is not B's: B queues its notice for her
    send(a, [("friend@example.net", "NOTIFY=SUCCESS")], mail_opts="ENVID=handed")
    wait("delivery to B", lambda: inbox(b, "friend@example.net"))
    wait("A's queue empty", lambda: "queue is empty" in queue_list(a))
    out = wait("B's notice queued", lambda: (lambda o: "from=<>" in o and o)(queue_list(b)))
    assert "to=<alice@example.test>" in out, out
    qdir = os.path.join(b.data, "queue")
    eml = [n for n in os.listdir(qdir) if n.endswith(".eml")]
    note = email.message_from_bytes(open(os.path.join(qdir, eml[0]), "rb").read(), policy=email.policy.default)
    per_msg, per_rcpt, _ = dsn_fields(note)
    assert per_rcpt[0]["Action"] == "delivered", per_rcpt[0]
    assert per_msg["Original-Envelope-Id"] == "handed", per_msg
    time.sleep(0.5)
    assert inbox(a, "alice@example.test") == [], "A sent a notice of its own"


@case
def ret_full_returns_the_message(f):
    a = f.sender()
    body = "".join("line %d of the original\r\n" % i for i in range(50))
    send(a, [("nobody@nomail.example", "")], mail_opts="RET=FULL", subject="return all", body=body)
    notes = wait("bounce", lambda: inbox(a, "alice@example.test"))
    msg = notes[0]
    parts = list(msg.iter_parts())
    assert parts[2].get_content_type() == "message/rfc822", [p.get_content_type() for p in parts]
    returned = parts[2].get_payload()[0]
    assert returned["Subject"] == "return all"
    assert "line 49 of the original" in returned.get_content(), returned.get_content()[-200:]


@case
def local_delivery_notice(f):
    """NOTIFY=SUCCESS to a local mailbox: a "delivered" notice at once."""
    a = f.sender()
    a.add_user("bob@example.test")
    send(a, [("bob@example.test", "NOTIFY=SUCCESS")], subject="to bob")
    assert inbox(a, "bob@example.test")[0]["Subject"] == "to bob"
    notes = wait("delivered notice", lambda: inbox(a, "alice@example.test"))
    _, per_rcpt, _ = dsn_fields(notes[0])
    assert per_rcpt[0]["Action"] == "delivered" and per_rcpt[0]["Status"] == "2.0.0", per_rcpt[0]
    assert per_rcpt[0]["Final-Recipient"].endswith("bob@example.test")


@case
def bad_parameters_refused(f):
    a = f.sender()
    s = submission(a, "alice@example.test")
    try:
        code, _ = s.docmd("MAIL FROM:<alice@example.test> RET=BODY")
        assert code == 501, code
        code, _ = s.docmd("MAIL FROM:<alice@example.test> RET=HDRS")
        assert code == 250, code
        code, _ = s.docmd("RCPT TO:<x@example.net> NOTIFY=NEVER,SUCCESS")
        assert code == 501, code
        code, _ = s.docmd("RCPT TO:<x@example.net> ORCPT=no-semicolon")
        assert code == 501, code
    finally:
        s.quit()


if __name__ == "__main__":
    if not os.path.exists(SINK):
        print("not ok smtp-sink missing (install postfix: scripts/deps.sh)")
        sys.exit(1)

    def setup():
        return Fixture()

    def teardown_fixture(f):
        f.close()
    suite.run(setup, teardown_fixture)
