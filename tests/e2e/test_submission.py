"""End-to-end tests of message submission (RFC 6409): 587 with STARTTLS
("submission") and 465 with implicit TLS ("submissions"), AUTH (RFC 4954),
sender checks, local delivery and the outbound queue."""

import base64
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import PASSWORD, Suite  # noqa: E402
from mailcheck import (  # noqa: E402
    HOST, assert_delivered_exact, case, curl, expect_smtp_error, fetch_all, message, pop3_count, raw_smtp,
    setup, submission, teardown_all)

suite = Suite()
t = case(suite)


def b64(s):
    return base64.b64encode(s.encode()).decode()


def auth_plain(s, user, password):
    s.user, s.password = user, password
    return s.auth("PLAIN", s.auth_plain)


def auth_login(s, user, password, initial=True):
    s.user, s.password = user, password
    return s.auth("LOGIN", s.auth_login, initial_response_ok=initial)


@t
def auth_offered_after_starttls(f):
    srv = f.std()
    s = submission(srv)
    try:
        assert "auth" in s.esmtp_features, s.ehlo_resp
        mechs = s.esmtp_features["auth"].upper().split()
        assert "PLAIN" in mechs and "LOGIN" in mechs, mechs
        assert "starttls" not in s.esmtp_features, "STARTTLS offered again inside TLS"
        for ext in ("pipelining", "size", "8bitmime", "enhancedstatuscodes", "chunking"):
            assert ext in s.esmtp_features, ext
    finally:
        s.quit()


@t
def no_auth_before_tls_when_plaintext_never(f):
    srv = f.std(allow_plaintext="never")
    r = raw_smtp(srv, "submission", ehlo=False)
    try:
        r.send("EHLO client.example.org\r\n")
        ehlo = r.reply()
        assert not any(l[4:].upper().startswith("AUTH") for l in ehlo), ehlo
        assert any(l[4:].upper().startswith("STARTTLS") for l in ehlo), ehlo
        r.send("AUTH PLAIN %s\r\n" % b64("\0alice@example.test\0" + PASSWORD))
        rep = r.reply()
        assert rep[-1][0] == "5", "AUTH before TLS: %r" % rep
        r.send("AUTH LOGIN\r\n")
        rep = r.reply()
        assert rep[-1][0] == "5", "AUTH LOGIN before TLS: %r" % rep
        r.send("MAIL FROM:<alice@example.test>\r\n")
        rep = r.reply()
        assert rep[-1].startswith("530"), rep
    finally:
        r.close()
    # After STARTTLS it works.
    s = submission(srv, "alice@example.test")
    s.quit()


@t
def mail_before_auth(f):
    srv = f.std()
    s = submission(srv)
    try:
        code, text = s.mail("alice@example.test")
        assert code == 530 and text.startswith(b"5.7.0"), (code, text)
        code, text = s.rcpt("bob@example.test")
        assert code == 503 or code == 530, (code, text)
    finally:
        s.quit()
    # Also without TLS (loopback plaintext allowed).
    r = raw_smtp(srv, "submission")
    try:
        r.send("MAIL FROM:<alice@example.test>\r\n")
        rep = r.reply()
        assert rep[-1].startswith("530") and "5.7.0" in rep[-1], rep
    finally:
        r.close()


@t
def auth_plain_and_login(f):
    srv = f.std()
    s = submission(srv)
    try:
        code, text = auth_plain(s, "alice@example.test", PASSWORD)
        assert code == 235 and text.startswith(b"2.7.0"), (code, text)
        code, text = s.docmd("AUTH PLAIN " + b64("\0alice@example.test\0" + PASSWORD))
        assert code == 503, "second AUTH: %d %r" % (code, text)
    finally:
        s.quit()
    s = submission(srv)
    try:
        code, text = auth_login(s, "bob@example.test", PASSWORD)
        assert code == 235, (code, text)
    finally:
        s.quit()
    s = submission(srv)
    try:
        code, text = auth_login(s, "bob@example.test", PASSWORD, initial=False)
        assert code == 235, (code, text)
    finally:
        s.quit()
    # PLAIN without an initial response: an empty challenge "334 ".
    r = raw_smtp(srv, "submissions", tls=True)
    try:
        r.send("AUTH PLAIN\r\n")
        rep = r.reply()
        assert rep == ["334 "] or rep == ["334"], rep
        r.send(b64("\0carol@example.org\0" + PASSWORD) + "\r\n")
        rep = r.reply()
        assert rep[-1].startswith("235"), rep
    finally:
        r.close()
    # smtplib's own choice of mechanism.
    s = submission(srv, "carol@example.org", implicit=True)
    s.quit()


@t
def auth_failures_look_alike(f):
    srv = f.std()
    s = submission(srv)
    try:
        e1 = expect_smtp_error(lambda: auth_plain(s, "alice@example.test", "wrong password"), 535, "5.7.8")
        e2 = expect_smtp_error(lambda: auth_plain(s, "nobody@example.test", "wrong password"), 535, "5.7.8")
        e3 = expect_smtp_error(lambda: auth_plain(s, "nobody@example.net", PASSWORD), 535, "5.7.8")
        assert e1 == e2 == e3, (e1, e2, e3)
        code, text = auth_plain(s, "alice@example.test", PASSWORD)  # still possible after failures
        assert code == 235, (code, text)
    finally:
        s.quit()


@t
def auth_malformed(f):
    srv = f.std()
    r = raw_smtp(srv, "submissions", tls=True)
    try:
        r.send("AUTH CRAM-SHA9\r\n")
        assert r.reply()[-1].startswith("504"), "unknown mechanism"
        r.send("AUTH PLAIN\r\n")
        assert r.reply()[-1].startswith("334")
        r.send("*\r\n")
        rep = r.reply()
        assert rep[-1].startswith("501"), "cancelled AUTH: %r" % rep
        r.send("AUTH PLAIN !!!not-base64!!!\r\n")
        rep = r.reply()
        assert rep[-1].startswith("501") or rep[-1].startswith("535"), rep
        r.send("AUTH PLAIN %s\r\n" % b64("no nuls at all"))
        rep = r.reply()
        assert rep[-1][0] == "5", rep
        r.send("AUTH PLAIN %s\r\n" % ("QUFB" * 4000))  # 16000 characters: over any SASL bound
        rep = r.reply()
        assert rep[-1][0] == "5", rep
        # PLAIN with an authorization identity other than the user: refused.
        r.send("AUTH PLAIN %s\r\n" % b64("bob@example.test\0alice@example.test\0" + PASSWORD))
        rep = r.reply()
        assert rep[-1][0] == "5", "authorized as someone else: %r" % rep
        r.send("NOOP\r\n")
        assert r.reply()[-1].startswith("250"), "session lost"
    finally:
        r.close()


@t
def sender_must_be_own_address(f):
    srv = f.std()
    s = submission(srv, "alice@example.test")
    try:
        code, text = s.mail("bob@example.test")
        assert code == 553 and text.startswith(b"5.7.1"), (code, text)
        code, text = s.mail("someone@example.net")
        assert code == 553 and text.startswith(b"5.7.1"), (code, text)
        code, text = s.mail("ALICE@EXAMPLE.TEST")
        assert code == 250, (code, text)
        s.rset()
        code, text = s.mail("alice@example.test")
        assert code == 250, (code, text)
    finally:
        s.quit()


@t
def submit_local_delivery(f):
    srv = f.std()
    msg = message(subject="from alice", sender="alice@example.test", to="bob@example.test")
    s = submission(srv, "alice@example.test")
    try:
        assert s.sendmail("alice@example.test", ["bob@example.test", "carol@example.org"], msg) == {}
    finally:
        s.quit()
    got = fetch_all(srv, "bob@example.test")
    assert len(got) == 1
    assert_delivered_exact(got[0], msg)
    assert pop3_count(srv, "carol@example.org") == 1
    out = srv.cli("queue", "list").stdout
    assert "bob@example.test" not in out, out


@t
def submit_remote_is_queued(f):
    srv = f.std()
    s = submission(srv, "alice@example.test", implicit=True)
    try:
        code, text = s.mail("alice@example.test")
        assert code == 250
        code, text = s.rcpt("someone@example.net")
        assert code == 250, (code, text)
        code, text = s.rcpt("bob@example.test")
        assert code == 250, (code, text)
        code, text = s.data(message(subject="outbound", sender="alice@example.test", to="someone@example.net"))
        assert code == 250, (code, text)
    finally:
        s.quit()
    out = srv.cli("queue", "list").stdout
    assert "someone@example.net" in out and "alice@example.test" in out, out
    assert "bob@example.test" not in out, "the local recipient was queued too: " + out
    assert pop3_count(srv, "bob@example.test") == 1
    # The queue survives a restart.
    status = srv.stop()
    assert status == 0, "SIGTERM exit status %s: %s" % (status, srv.tail())
    srv.start()
    assert "someone@example.net" in srv.cli("queue", "list").stdout


@t
def submit_too_many_recipients(f):
    srv = f.std()
    s = submission(srv, "alice@example.test")
    try:
        assert s.mail("alice@example.test")[0] == 250
        for i in range(100):
            code, text = s.rcpt("r%d@example.net" % i)
            assert code == 250, (i, code, text)
        code, text = s.rcpt("r100@example.net")
        assert code == 452 and text.startswith(b"4.5.3"), (code, text)
    finally:
        s.quit()


@t
def submission_switch_off(f):
    srv = f.std()
    srv.cli("user", "set", "alice@example.test", "--submission", "off")
    s = submission(srv)
    try:
        code = expect_smtp_error(lambda: auth_plain(s, "alice@example.test", PASSWORD), 535)
        code, text = s.mail("alice@example.test")
        assert code == 530, (code, text)
    finally:
        s.quit()
    srv.cli("user", "set", "alice@example.test", "--submission", "on")
    s = submission(srv, "alice@example.test")
    s.quit()


@t
def disabled_user_cannot_submit(f):
    srv = f.std()
    srv.cli("user", "set", "bob@example.test", "--disabled")
    s = submission(srv)
    try:
        expect_smtp_error(lambda: auth_plain(s, "bob@example.test", PASSWORD), 535)
    finally:
        s.quit()


@t
def password_change_takes_effect(f):
    srv = f.std()
    srv.cli("user", "passwd", "alice@example.test", "--password-stdin", input="new secret words\n")
    s = submission(srv)
    try:
        expect_smtp_error(lambda: auth_plain(s, "alice@example.test", PASSWORD), 535)
        code, text = auth_plain(s, "alice@example.test", "new secret words")
        assert code == 235, (code, text)
    finally:
        s.quit()


@t
def curl_smtps_upload(f):
    srv = f.std()
    msg = message(subject="via curl", sender="alice@example.test", to="bob@example.test")
    r = curl("--url", "smtps://%s:%d" % (HOST, srv.port("submissions")),
             "--mail-from", "alice@example.test", "--mail-rcpt", "bob@example.test",
             "--user", "alice@example.test:" + PASSWORD, "-T", "-", input=msg)
    assert r.returncode == 0, r.stderr
    got = fetch_all(srv, "bob@example.test")
    assert len(got) == 1
    assert_delivered_exact(got[0], msg)


@t
def curl_smtp_starttls_upload(f):
    srv = f.std()
    msg = message(subject="via curl starttls", sender="carol@example.org", to="alice@example.test")
    r = curl("--url", "smtp://%s:%d" % (HOST, srv.port("submission")), "--ssl-reqd",
             "--mail-from", "carol@example.org", "--mail-rcpt", "alice@example.test",
             "--user", "carol@example.org:" + PASSWORD, "-T", "-", input=msg)
    assert r.returncode == 0, r.stderr
    got = fetch_all(srv, "alice@example.test")
    assert len(got) == 1
    assert_delivered_exact(got[0], msg)


suite.run(setup, teardown_all)
