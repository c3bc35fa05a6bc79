"""End-to-end tests of message submission (RFC 6409): 587 with STARTTLS
("submission") and 465 with implicit TLS ("submissions"), AUTH (RFC 4954),
sender checks, local delivery and the outbound queue."""

import base64
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import PASSWORD, Suite  # noqa: E402
from mailcheck import (  # noqa: E402
    HOST, assert_delivered_exact, case, curl, deliver, expect_smtp_error, fetch_all, message, pop3_count, raw_smtp,
    setup, split_trace, submission, teardown_all)

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

# ---- RFC 6409 8: what submission does to the message ----

def header_of(stored):
    """The header section of a stored message (trace fields included)."""
    return stored.split(b"\r\n\r\n", 1)[0]


def count_fields(header, name):
    name = name.lower().encode() + b":"
    return sum(1 for l in header.split(b"\r\n") if l.lower().replace(b" ", b"").startswith(name))


def bare_message(frm="Alice <alice@example.test>", subject="bare", body=b"hello\r\nDate: in the body\r\n"):
    """A message without Date and Message-ID (and without From when frm is None)."""
    head = b"" if frm is None else b"From: " + frm.encode() + b"\r\n"
    return head + b"To: <bob@example.test>\r\nSubject: " + subject.encode() + b"\r\n\r\n" + body


def submit(srv, msg, user="alice@example.test", sender=None, rcpts=("bob@example.test",)):
    s = submission(srv, user)
    try:
        return s.sendmail(sender or user, list(rcpts), msg)
    finally:
        s.quit()


@t
def submit_adds_date_and_message_id(f):
    import email.utils
    srv = f.std()
    msg = bare_message()
    assert submit(srv, msg) == {}
    got = fetch_all(srv, "bob@example.test")
    assert len(got) == 1
    head = header_of(got[0])
    assert count_fields(head, "Date") == 1, head
    assert count_fields(head, "Message-ID") == 1, head
    _, rest = split_trace(got[0])
    # added at the end of the header section, the client's bytes untouched around them
    assert rest.startswith(msg.split(b"\r\n\r\n")[0] + b"\r\n"), rest
    assert rest.endswith(b"\r\n\r\n" + msg.split(b"\r\n\r\n", 1)[1]), rest
    date = [l for l in head.split(b"\r\n") if l.startswith(b"Date: ")][0][6:].decode()
    assert email.utils.parsedate_to_datetime(date) is not None, date
    mid = [l for l in head.split(b"\r\n") if l.startswith(b"Message-ID: ")][0][12:].decode()
    assert mid.startswith("<") and mid.endswith(">") and "@" in mid, mid
    # a second message gets another id
    assert submit(srv, bare_message(subject="second")) == {}
    got = fetch_all(srv, "bob@example.test")
    mid2 = [l for l in header_of(got[1]).split(b"\r\n") if l.startswith(b"Message-ID: ")][0][12:].decode()
    assert mid2 != mid, (mid, mid2)


@t
def submit_keeps_own_date_and_message_id(f):
    srv = f.std()
    msg = message(subject="has both", sender="alice@example.test", to="bob@example.test")
    assert submit(srv, msg) == {}
    got = fetch_all(srv, "bob@example.test")
    assert_delivered_exact(got[0], msg)
    head = header_of(got[0])
    assert count_fields(head, "Date") == 1 and count_fields(head, "Message-ID") == 1, head
    # one present, the other added
    msg = b"From: alice@example.test\r\ndate: Thu, 01 Jan 2026 00:00:00 +0000\r\nSubject: d\r\n\r\nx\r\n"
    assert submit(srv, msg) == {}
    head = header_of(fetch_all(srv, "bob@example.test")[1])
    assert count_fields(head, "Date") == 1 and count_fields(head, "Message-ID") == 1, head
    assert b"date: Thu, 01 Jan 2026 00:00:00 +0000" in head, head


@t
def submit_header_only_message(f):
    srv = f.std()
    msg = b"From: alice@example.test\r\nSubject: no body\r\n"
    assert submit(srv, msg) == {}
    _, rest = split_trace(fetch_all(srv, "bob@example.test")[0])
    assert rest.startswith(msg), rest
    assert count_fields(rest, "Date") == 1 and count_fields(rest, "Message-ID") == 1, rest


def raw_submission(srv, user="alice@example.test"):
    r = raw_smtp(srv, "submissions", tls=True)
    r.send("AUTH PLAIN %s\r\n" % b64("\0%s\0%s" % (user, PASSWORD)))
    rep = r.reply()
    assert rep[-1].startswith("235"), rep
    return r


@t
def submit_bdat_split_anywhere(f):
    srv = f.std()
    msg = bare_message(frm="alice@example.test", body=b"body\r\n")
    cut = msg.index(b"\r\n\r\n")
    # inside "From:", inside a line, on each byte of the CRLF CRLF
    splits = [2, 8, cut, cut + 1, cut + 2, cut + 3, cut + 4]
    r = raw_submission(srv)
    try:
        for i, at in enumerate(splits):
            m = msg.replace(b"Subject: bare", b"Subject: split %02d" % i)
            r.send("MAIL FROM:<alice@example.test>\r\n")
            assert r.reply()[-1].startswith("250")
            r.send("RCPT TO:<bob@example.test>\r\n")
            assert r.reply()[-1].startswith("250")
            r.send(b"BDAT %d\r\n" % at + m[:at])
            rep = r.reply()
            assert rep[-1].startswith("250"), rep
            r.send(b"BDAT %d LAST\r\n" % (len(m) - at) + m[at:])
            rep = r.reply()
            assert rep[-1].startswith("250"), (at, rep)
        r.send("QUIT\r\n")
        r.reply()
    finally:
        r.close()
    got = fetch_all(srv, "bob@example.test")
    assert len(got) == len(splits), len(got)
    for g in got:
        head = header_of(g)
        assert count_fields(head, "Date") == 1 and count_fields(head, "Message-ID") == 1, g
        assert g.endswith(b"\r\n\r\nbody\r\n"), g


@t
def submit_bdat_from_of_another_user(f):
    srv = f.std()
    msg = bare_message(frm="bob@example.test")
    r = raw_submission(srv)
    try:
        r.send("MAIL FROM:<alice@example.test>\r\n")
        assert r.reply()[-1].startswith("250")
        r.send("RCPT TO:<bob@example.test>\r\n")
        assert r.reply()[-1].startswith("250")
        r.send(b"BDAT 3\r\n" + msg[:3])
        assert r.reply()[-1].startswith("250")
        r.send(b"BDAT %d LAST\r\n" % (len(msg) - 3) + msg[3:])
        rep = r.reply()
        assert rep[-1].startswith("550 5.7.1 <bob@example.test>"), rep
        r.send("NOOP\r\n")
        assert r.reply()[-1].startswith("250")
    finally:
        r.close()
    assert pop3_count(srv, "bob@example.test") == 0


@t
def submit_from_of_another_user_refused(f):
    srv = f.std()
    for frm in ("bob@example.test", "Alice <bob@example.test>", "\"alice@example.test\" <bob@example.test>",
                "alice@example.test, bob@example.test", "someone@example.net"):
        text = expect_smtp_error(lambda: submit(srv, bare_message(frm=frm), rcpts=("bob@example.test",
                                                                                  "someone@example.net")),
                                 550, "5.7.1")
        assert "From header not owned by user alice@example.test" in text, text
        assert text.split()[1].startswith("<") and "@" in text.split()[1], text
    text = expect_smtp_error(lambda: submit(srv, bare_message(frm="bob@example.test")), 550, "5.7.1")
    assert text == "5.7.1 <bob@example.test>: From header not owned by user alice@example.test", text
    assert pop3_count(srv, "bob@example.test") == 0
    out = srv.cli("queue", "list").stdout
    assert "someone@example.net" not in out, out


@t
def submit_from_forms_refused(f):
    srv = f.std()
    cases = [
        (None, "5.6.0", "Message has no From header"),
        ("Friends: alice@example.test;", "5.6.0", "group"),
        ("Alice Smith", "5.6.0", "no address"),
    ]
    for frm, enh, words in cases:
        text = expect_smtp_error(lambda: submit(srv, bare_message(frm=frm)), 550, enh)
        assert words in text, (frm, text)
    two = b"From: alice@example.test\r\nFrom: bob@example.test\r\nSubject: two\r\n\r\nx\r\n"
    text = expect_smtp_error(lambda: submit(srv, two), 550, "5.6.0")
    assert "more than one From" in text, text
    # a From: in the body is not a header
    body_from = b"Subject: x\r\n\r\nFrom: alice@example.test\r\n"
    expect_smtp_error(lambda: submit(srv, body_from), 550, "5.6.0")
    assert pop3_count(srv, "bob@example.test") == 0


@t
def submit_from_forms_accepted(f):
    srv = f.std()
    srv.cli("alias", "add", "info@example.test", "alice@example.test")
    forms = ['"Alice, Smith" <alice@example.test>', "alice@example.test (Alice)", "ALICE@example.test",
             "Info Desk <info@example.test>", "=?UTF-8?Q?Alice_=C3=A9?= <alice@example.test>",
             '"alice"@example.test', "Alice\r\n <alice@example.test>",
             "alice@example.test, Info <info@example.test>"]
    for i, frm in enumerate(forms):
        assert submit(srv, bare_message(frm=frm, subject="form %d" % i)) == {}, frm
    assert pop3_count(srv, "bob@example.test") == len(forms)
    # the envelope may differ from the header when both are the user's
    assert submit(srv, bare_message(frm="alice@example.test"), sender="info@example.test") == {}
    # and carol may not use alice's alias
    text = expect_smtp_error(lambda: submit(srv, bare_message(frm="info@example.test"),
                                            user="carol@example.org"), 550, "5.7.1")
    assert "<info@example.test>" in text and "carol@example.org" in text, text


@t
def port25_message_not_changed(f):
    srv = f.std()
    msg = bare_message(frm="someone@example.net")
    assert deliver(srv, "alice@example.test", msg, sender="someone@example.net") == {}
    got = fetch_all(srv, "alice@example.test")
    assert_delivered_exact(got[0], msg)
    head = header_of(got[0])
    assert count_fields(head, "Date") == 0 and count_fields(head, "Message-ID") == 0, head
    # no From at all is not submission's business on port 25 either
    msg = b"Subject: no from\r\n\r\nx\r\n"
    assert deliver(srv, "alice@example.test", msg) == {}
    assert_delivered_exact(fetch_all(srv, "alice@example.test")[1], msg)


suite.run(setup, teardown_all)
