"""End-to-end tests of inbound SMTP (service "smtp", RFC 5321): what it
offers, whom it accepts mail for, its bounds, framing (DATA, BDAT,
pipelining) and what it stores."""

import os
import smtplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Suite  # noqa: E402
from mailcheck import (  # noqa: E402
    assert_delivered_exact, case, deliver, expect_smtp_error, fetch_all, message, pop3_count, raw_smtp,
    setup, smtp, teardown_all)

suite = Suite()
t = case(suite)


@t
def ehlo_extensions(f):
    srv = f.std()
    s = smtp(srv)
    try:
        feats = s.esmtp_features
        for ext in ("pipelining", "size", "8bitmime", "enhancedstatuscodes", "smtputf8", "chunking", "starttls"):
            assert ext in feats, "%s not offered: %r" % (ext, s.ehlo_resp)
        assert "auth" not in feats, "AUTH offered on the inbound port: %r" % s.ehlo_resp
        # SIZE announces the limit (50M in the harness config).
        assert feats["size"].strip() in (str(50 * 1024 * 1024), str(50 * 1000 * 1000)), feats["size"]
    finally:
        s.quit()


@t
def greeting_and_helo(f):
    srv = f.std()
    r = raw_smtp(srv, ehlo=False)
    try:
        r.send("HELO client.example.org\r\n")
        rep = r.reply()
        assert rep == [rep[0]] and rep[0].startswith("250 "), rep
        r.send("EHLO\r\n")  # EHLO needs a domain
        rep = r.reply()
        assert rep[0].startswith("501"), rep
    finally:
        r.close()


@t
def simple_commands(f):
    srv = f.std()
    r = raw_smtp(srv)
    try:
        r.send("NOOP\r\n")
        assert r.reply()[-1].startswith("250 "), "NOOP"
        r.send("VRFY alice@example.test\r\n")
        rep = r.reply()
        assert rep[-1].startswith("252 "), rep
        r.send("VRFY nobody@example.test\r\n")  # same answer: no enumeration
        rep2 = r.reply()
        assert rep2[-1].startswith("252 "), rep2
        r.send("HELP\r\n")
        rep = r.reply()
        assert rep[-1].startswith("214"), rep
        r.send("RSET\r\n")
        assert r.reply()[-1].startswith("250 "), "RSET"
        r.send("QUIT\r\n")
        rep = r.reply()
        assert rep[-1].startswith("221 "), rep
        assert r.closed(), "connection not closed after QUIT"
    finally:
        r.close()


@t
def local_delivery_and_trace_headers(f):
    srv = f.std()
    msg = message(subject="trace", to="alice@example.test")
    refused = deliver(srv, "alice@example.test", msg, sender="sender@example.org")
    assert refused == {}, refused
    got = fetch_all(srv, "alice@example.test")
    assert len(got) == 1, len(got)
    trace = assert_delivered_exact(got[0], msg)
    assert len(trace) >= 2, "trace headers missing: %r" % got[0][:400]
    assert trace[0] == b"Return-Path: <sender@example.org>", trace[0]
    # port 25's checks (off here; test_inbound_auth.py) would put
    # Authentication-Results next
    rcv = trace[2] if trace[1].startswith(b"Authentication-Results:") else trace[1]
    assert rcv.lower().startswith(b"received:"), rcv
    flat = b" ".join(rcv.split())
    assert b"from client.example.org" in flat, rcv
    assert b"by mail.example.test" in flat, rcv
    assert b";" in flat, "Received has no date: %r" % rcv
    assert pop3_count(srv, "bob@example.test") == 0


@t
def null_sender_accepted(f):
    srv = f.std()
    r = raw_smtp(srv)
    try:
        r.send("MAIL FROM:<>\r\n")
        assert r.reply()[-1].startswith("250"), "MAIL FROM:<>"
        r.send("RCPT TO:<bob@example.test>\r\n")
        assert r.reply()[-1].startswith("250"), "RCPT"
        r.send("DATA\r\n")
        assert r.reply()[-1].startswith("354"), "DATA"
        r.send(message(subject="bounce").decode() + ".\r\n")
        rep = r.reply()
        assert rep[-1].startswith("250"), rep
        r.send("QUIT\r\n")
        r.reply()
    finally:
        r.close()
    got = fetch_all(srv, "bob@example.test")
    assert len(got) == 1
    assert got[0].startswith(b"Return-Path: <>\r\n"), got[0][:200]


@t
def recipients_accepted_and_refused(f):
    srv = f.std()
    s = smtp(srv)
    try:
        code, text = s.mail("sender@example.org")
        assert code == 250, (code, text)
        code, text = s.rcpt("alice@example.test")
        assert code == 250, (code, text)
        code, text = s.rcpt("carol@example.org")
        assert code == 250, (code, text)
        code, text = s.rcpt("nobody@example.test")
        assert code == 550 and text.startswith(b"5.1.1"), (code, text)
        code, text = s.rcpt("someone@example.net")
        assert code == 554 and text.startswith(b"5.7.1"), (code, text)
        # Domain case does not matter; an address is not an open relay
        # because of a trailing dot or a source route.
        code, text = s.rcpt("ALICE@Example.TEST")
        assert code == 250, (code, text)
        for bad in ("<@example.test:someone@example.net>", "<someone@example.net.>", "<someone%example.net@example.test>"):
            code, text = s.docmd("RCPT TO:" + bad)
            assert code >= 500, "relay through %s: %d %r" % (bad, code, text)
        code, text = s.data(message(subject="two"))
        assert code == 250, (code, text)
    finally:
        s.quit()
    assert len(fetch_all(srv, "alice@example.test")) == 1
    assert len(fetch_all(srv, "carol@example.org")) == 1


@t
def not_an_open_relay(f):
    srv = f.std()
    s = smtp(srv)
    try:
        # Even from a local-looking sender, and without AUTH.
        code, text = s.mail("alice@example.test")
        assert code == 250, (code, text)
        code, text = s.rcpt("victim@example.net")
        assert code == 554 and text.startswith(b"5.7.1"), (code, text)
        code, text = s.docmd("DATA")
        assert code == 554 or code == 503, "DATA with no recipients: %d %r" % (code, text)
    finally:
        s.quit()
    out = srv.cli("queue", "list").stdout
    assert "victim@example.net" not in out, out


@t
def commands_out_of_order(f):
    srv = f.std()
    r = raw_smtp(srv, ehlo=False)
    try:
        r.send("MAIL FROM:<a@example.org>\r\n")  # before EHLO
        rep = r.reply()
        assert rep[-1].startswith("503"), rep
        r.send("EHLO client.example.org\r\n")
        r.reply()
        r.send("RCPT TO:<alice@example.test>\r\n")  # before MAIL
        assert r.reply()[-1].startswith("503"), "RCPT before MAIL"
        r.send("DATA\r\n")
        assert r.reply()[-1].startswith("503"), "DATA before MAIL"
        r.send("MAIL FROM:<a@example.org>\r\n")
        assert r.reply()[-1].startswith("250"), "MAIL"
        r.send("MAIL FROM:<a@example.org>\r\n")  # nested MAIL
        assert r.reply()[-1].startswith("503"), "second MAIL"
        r.send("RSET\r\n")
        assert r.reply()[-1].startswith("250"), "RSET"
        r.send("MAIL FROM:<bad address>\r\n")
        assert r.reply()[-1][0] == "5", "MAIL with a space in the address"
        r.send("NOOP\r\n")
        assert r.reply()[-1].startswith("250"), "NOOP"
    finally:
        r.close()


@t
def parameters_and_address_bounds(f):
    srv = f.std()
    s = smtp(srv)
    try:
        code, text = s.docmd("MAIL FROM:<a@example.org> FROBNICATE=YES")
        assert code == 555, "unknown MAIL parameter (RFC 5321 4.1.1.11): %d %r" % (code, text)
        code, text = s.docmd("MAIL FROM:<a@example.org> BODY=9BITMIME")
        assert code in (501, 555), "bad BODY value: %d %r" % (code, text)
        code, text = s.docmd("MAIL FROM:<%s@example.org>" % ("l" * 65))
        assert code >= 500, "local part over 64 octets: %d %r" % (code, text)
        code, text = s.mail("a@example.org")
        assert code == 250, (code, text)
        code, text = s.docmd("RCPT TO:<alice@example.test> NOTIFY=NEVER FROB=1")
        assert code == 555, "unknown RCPT parameter: %d %r" % (code, text)
        code, text = s.docmd("RCPT TO:<%s@example.test>" % ("x" * 300))
        assert code >= 500, "overlong address: %d %r" % (code, text)
        code, text = s.docmd("RCPT TO:alice@example.test")  # no angle brackets
        assert code in (250, 501), (code, text)
    finally:
        s.quit()


@t
def rset_and_ehlo_reset_the_transaction(f):
    srv = f.std()
    r = raw_smtp(srv)
    try:
        r.send("MAIL FROM:<s@example.org>\r\nRCPT TO:<alice@example.test>\r\nRSET\r\nDATA\r\n")
        codes = [r.reply()[-1][:3] for _ in range(4)]
        assert codes == ["250", "250", "250", "503"], "DATA after RSET: %r" % codes
        # RFC 5321 4.1.4: an EHLO in the middle of a transaction resets it.
        r.send("MAIL FROM:<s@example.org>\r\nRCPT TO:<alice@example.test>\r\nEHLO again.example.org\r\n")
        assert r.reply()[-1].startswith("250") and r.reply()[-1].startswith("250")
        assert r.reply()[-1].startswith("250"), "EHLO"
        r.send("DATA\r\n")
        rep = r.reply()
        assert rep[-1].startswith("503"), "DATA after EHLO: %r" % rep
    finally:
        r.close()
    assert pop3_count(srv, "alice@example.test") == 0


@t
def postmaster_accepted(f):
    # RFC 5321 4.5.1: "RCPT TO:<Postmaster>" (no domain, any case) and
    # postmaster@ each local domain MUST be accepted.
    srv = f.std()
    s = smtp(srv)
    try:
        assert s.mail("sender@example.org")[0] == 250
        for rcpt in ("<Postmaster>", "<postmaster@example.test>", "<POSTMASTER@example.org>"):
            code, text = s.docmd("RCPT TO:" + rcpt)
            assert code == 250, "RCPT TO:%s -> %d %r" % (rcpt, code, text)
    finally:
        s.quit()


@t
def size_parameter_over_limit(f):
    srv = f.std(max_message_size="100K")
    s = smtp(srv)
    try:
        assert s.esmtp_features["size"].strip() in (str(100 * 1024), str(100 * 1000)), s.esmtp_features
        code, text = s.mail("sender@example.org", ["SIZE=%d" % (100 * 1024 + 1)])
        assert code == 552 and text.startswith(b"5.3.4"), (code, text)
        code, text = s.mail("sender@example.org", ["SIZE=99999999999999999999999"])
        assert code in (552, 501) and text[:1] == b"5", (code, text)
        code, text = s.mail("sender@example.org", ["SIZE=1000"])
        assert code == 250, (code, text)
    finally:
        s.quit()


@t
def message_over_limit(f):
    srv = f.std(max_message_size="100K")
    big = message(subject="big", body=("x" * 70 + "\r\n") * 2000)  # ~144K
    s = smtp(srv)
    try:
        expect_smtp_error(lambda: s.sendmail("sender@example.org", ["alice@example.test"], big), 552, "5.3.4")
        # The session goes on; a small message still goes through.
        code, text = s.noop()
        assert code == 250, (code, text)
        refused = s.sendmail("sender@example.org", ["alice@example.test"], message(subject="small"))
        assert refused == {}
    finally:
        s.quit()
    got = fetch_all(srv, "alice@example.test")
    assert len(got) == 1 and b"Subject: small" in got[0], [g[:200] for g in got]


@t
def message_over_limit_bdat(f):
    srv = f.std(max_message_size="100K")
    r = raw_smtp(srv)
    try:
        chunk = b"y" * 60000
        r.send("MAIL FROM:<sender@example.org>\r\nRCPT TO:<alice@example.test>\r\n")
        assert r.reply()[-1].startswith("250") and r.reply()[-1].startswith("250")
        r.send(b"BDAT %d\r\n" % len(chunk) + chunk)
        first = r.reply()[-1]
        r.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
        second = r.reply()[-1] if first.startswith("250") else first
        assert second.startswith("552") and "5.3.4" in second, (first, second)
        r.send("NOOP\r\n")
        assert r.reply()[-1].startswith("250"), "NOOP after 552"
    finally:
        r.close()
    assert pop3_count(srv, "alice@example.test") == 0


def import_users(srv, addresses):
    """Adds many users with one `tern user import-passwd` run."""
    h = subprocess.run(["openssl", "passwd", "-6", "-salt", "xyzsalt", "pw"],
                                     capture_output=True, text=True, check=True).stdout.strip()
    path = os.path.join(srv.dir, "many.passwd")
    with open(path, "w") as fp:
        for a in addresses:
            fp.write("%s:{SHA512-CRYPT}%s::::::\n" % (a, h))
    srv.cli("user", "import-passwd", path)


@t
def too_many_recipients(f):
    srv = f.std(start=False)
    rcpts = ["r%d@example.test" % i for i in range(101)]
    import_users(srv, rcpts)
    srv.start()
    s = smtp(srv)
    try:
        code, _ = s.mail("sender@example.org")
        assert code == 250
        for i, a in enumerate(rcpts[:100]):
            code, text = s.rcpt(a)
            assert code == 250, (i, code, text)
        code, text = s.rcpt(rcpts[100])
        assert code == 452 and text.startswith(b"4.5.3"), (code, text)
        code, text = s.data(message(subject="hundred", to="r0@example.test"))
        assert code == 250, (code, text)
    finally:
        s.quit()
    assert pop3_count(srv, "r99@example.test", "pw") == 1
    assert pop3_count(srv, "r100@example.test", "pw") == 0


@t
def overlong_command_line(f):
    srv = f.std()
    r = raw_smtp(srv)
    try:
        r.send("NOOP " + "x" * 3000 + "\r\n")
        rep = r.reply()
        assert rep[-1].startswith("500") and "5.5.2" in rep[-1], rep
        r.send("NOOP\r\n")
        rep = r.reply()
        assert rep[-1].startswith("250"), rep
        # A long MAIL line must not leave a half-command behind either.
        r.send("MAIL FROM:<" + "a" * 2100 + "@example.org>\r\nNOOP\r\n")
        rep = r.reply()
        assert rep[-1][0] == "5", rep
        rep = r.reply()
        assert rep[-1].startswith("250"), rep
        # Exactly at the limit (2048 with CRLF) is fine.
        line = "NOOP " + "y" * (2048 - 7)
        r.send(line + "\r\n")
        rep = r.reply()
        assert rep[-1].startswith("250"), rep
    finally:
        r.close()


@t
def huge_line_without_newline(f):
    srv = f.std()
    r = raw_smtp(srv)
    try:
        # 1 MB with no line end at all: an error, not unbounded buffering.
        try:
            r.send("X" * (1024 * 1024) + "\r\n")
        except OSError:
            pass  # the server may hang up while we write
        try:
            rep = r.reply()
            assert rep[-1][0] in "45", rep
        except (EOFError, ConnectionResetError):
            pass
    finally:
        r.close()
    # The server is fine.
    r = raw_smtp(srv)
    r.send("QUIT\r\n")
    assert r.reply()[-1].startswith("221")
    r.close()


@t
def nul_in_command(f):
    srv = f.std()
    r = raw_smtp(srv)
    try:
        r.send(b"NOOP\x00\r\n")
        rep = r.reply()
        assert rep[-1].startswith("500"), rep
        r.send(b"MAIL FROM:<a\x00b@example.org>\r\n")
        rep = r.reply()
        assert rep[-1][0] == "5", rep
        r.send("NOOP\r\n")
        assert r.reply()[-1].startswith("250")
    finally:
        r.close()


@t
def unknown_command(f):
    srv = f.std()
    r = raw_smtp(srv)
    try:
        r.send("FROB\r\n")
        rep = r.reply()
        assert rep[-1].startswith("500"), rep
        r.send("\r\n")
        rep = r.reply()
        assert rep[-1][0] == "5", rep
        r.send("NOOP\r\n")
        assert r.reply()[-1].startswith("250")
    finally:
        r.close()


@t
def too_many_errors_disconnect(f):
    srv = f.std()
    r = raw_smtp(srv)
    try:
        got421 = False
        for i in range(40):
            try:
                r.send("FROB %d\r\n" % i)
                rep = r.reply()
            except (EOFError, ConnectionResetError, BrokenPipeError):
                break
            if rep[-1].startswith("421"):
                got421 = True
                break
            assert rep[-1][0] == "5", rep
        assert got421, "no 421 after %d bad commands" % (i + 1)
        assert r.closed(), "still connected after 421"
    finally:
        r.close()


@t
def junk_commands_end_in_421(f):
    # Postfix's smtpd_junk_command_limit: past 100 NOOP/RSET/VRFY/HELP each
    # counts as an error, so a client that only keeps the line warm (one
    # NOOP every 299 s) cannot hold a port-25 slot forever.
    srv = f.std()
    r = raw_smtp(srv)
    try:
        r.send("EHLO junk.example\r\n")
        r.reply()
        ok = 0
        got421 = False
        for i in range(200):
            try:
                r.send(("NOOP", "RSET", "VRFY x", "HELP")[i % 4] + "\r\n")
                rep = r.reply()
            except (EOFError, ConnectionResetError, BrokenPipeError):
                break
            if rep[-1].startswith("421"):
                got421 = True
                break
            assert rep[-1][0] == "2", rep
            ok += 1
        # 100 free, then each is answered and counted as an error; the
        # 21st error (SMTP_MAX_ERRORS = 20) is followed by the 421.
        assert got421 and ok == 121, (got421, ok)
        assert r.closed(), "still connected after 421"
    finally:
        r.close()


@t
def bare_lf_in_data_stored_as_crlf(f):
    # Postfix 3.9's default (smtpd_forbid_bare_newline = normal): a bare LF
    # ends a line and is stored as CRLF; only CRLF.CRLF ends the data.
    srv = f.std()
    r = raw_smtp(srv)
    try:
        r.send("MAIL FROM:<sender@example.org>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
        assert r.reply()[-1].startswith("250")
        assert r.reply()[-1].startswith("250")
        assert r.reply()[-1].startswith("354")
        r.send(b"Subject: bare lf\r\n\r\nline one\nline two\r\n.\r\n")
        rep = r.reply()
        assert rep[-1].startswith("250"), rep
        r.send("NOOP\r\n")
        assert r.reply()[-1].startswith("250")
    finally:
        r.close()
    msgs = fetch_all(srv, "alice@example.test")
    assert len(msgs) == 1, len(msgs)
    assert msgs[0].endswith(b"\r\n\r\nline one\r\nline two\r\n"), msgs[0][-60:]


@t
def bare_cr_in_data_rejected(f):
    srv = f.std()
    r = raw_smtp(srv)
    try:
        r.send("MAIL FROM:<sender@example.org>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
        for want in ("250", "250", "354"):
            assert r.reply()[-1].startswith(want)
        r.send(b"Subject: bare cr\r\n\r\nline one\rline two\r\n.\r\n")
        rep = r.reply()
        assert rep[-1].startswith("550"), "bare CR accepted: %r" % rep
        r.send("NOOP\r\n")
        assert r.reply()[-1].startswith("250"), "session lost after bare CR"
    finally:
        r.close()
    assert pop3_count(srv, "alice@example.test") == 0


def smuggle(srv, body_end):
    """Sends a DATA body whose end is the non-standard body_end followed by
    a smuggled transaction to bob; returns the reply to the real end."""
    r = raw_smtp(srv)
    try:
        r.send("MAIL FROM:<sender@example.org>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
        for want in ("250", "250", "354"):
            rep = r.reply()
            assert rep[-1].startswith(want), rep
        r.send(b"Subject: smuggling\r\n\r\nbefore" + body_end +
               b"MAIL FROM:<evil@example.org>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n"
               b"Subject: smuggled\r\n\r\nsmuggled\r\n.\r\nVRFY postmaster\r\n")
        first = r.reply()
        assert first[-1][0] in "25", first
        # The next reply must be VRFY's 252: nothing answered the smuggled
        # MAIL/RCPT/DATA.
        second = r.reply()
        assert second[-1].startswith("252"), "smuggled commands answered: %r then %r" % (first, second)
        return first[-1]
    finally:
        r.close()


@t
def no_smuggling_lf_dot_lf(f):
    srv = f.std()
    first = smuggle(srv, b"\n.\n")
    # "\n.\n" is content: the whole text, smuggled commands included, is
    # one message to alice, and bob receives nothing.
    assert first.startswith("250"), first
    assert pop3_count(srv, "bob@example.test") == 0
    msgs = fetch_all(srv, "alice@example.test")
    assert len(msgs) == 1 and b"RCPT TO:<bob@example.test>" in msgs[0], msgs


@t
def no_smuggling_other_endings(f):
    srv = f.std()
    for end in (b"\r\n.\n", b"\n.\r\n", b"\r.\r\n", b"\r\n.\r"):
        smuggle(srv, end)
    assert pop3_count(srv, "bob@example.test") == 0, "a smuggled message reached bob"


@t
def pipelined_transaction(f):
    srv = f.std()
    r = raw_smtp(srv)
    try:
        r.send("MAIL FROM:<sender@example.org>\r\nRCPT TO:<alice@example.test>\r\n"
               "RCPT TO:<nobody@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
        codes = [r.reply()[-1][:3] for _ in range(5)]
        assert codes == ["250", "250", "550", "250", "354"], codes
        r.send(message(subject="pipelined") + b".\r\nNOOP\r\nQUIT\r\n")
        codes = [r.reply()[-1][:3] for _ in range(3)]
        assert codes == ["250", "250", "221"], codes
    finally:
        r.close()
    assert pop3_count(srv, "alice@example.test") == 1
    assert pop3_count(srv, "bob@example.test") == 1


@t
def two_transactions_one_session(f):
    srv = f.std()
    s = smtp(srv)
    try:
        m1, m2 = message(subject="one"), message(subject="two", to="bob@example.test")
        assert s.sendmail("sender@example.org", ["alice@example.test"], m1) == {}
        assert s.sendmail("sender@example.org", ["bob@example.test"], m2) == {}
    finally:
        s.quit()
    assert_delivered_exact(fetch_all(srv, "alice@example.test")[0], m1)
    assert_delivered_exact(fetch_all(srv, "bob@example.test")[0], m2)


@t
def bdat_chunks(f):
    srv = f.std()
    msg = message(subject="chunked", body="first line\r\n.\r\n..two dots\r\nlast\r\n")
    parts = [msg[:10], msg[10:57], msg[57:]]
    r = raw_smtp(srv)
    try:
        r.send("MAIL FROM:<sender@example.org>\r\nRCPT TO:<alice@example.test>\r\n")
        assert r.reply()[-1].startswith("250")
        assert r.reply()[-1].startswith("250")
        for p in parts:
            r.send(b"BDAT %d\r\n" % len(p) + p)
            rep = r.reply()
            assert rep[-1].startswith("250"), rep
        r.send("BDAT 0 LAST\r\n")
        rep = r.reply()
        assert rep[-1].startswith("250"), rep
        # Second transaction: one LAST chunk, pipelined with MAIL and RCPT.
        msg2 = message(subject="one chunk", body="x\r\n")
        r.send(b"MAIL FROM:<sender@example.org>\r\nRCPT TO:<bob@example.test>\r\nBDAT %d LAST\r\n" % len(msg2)
               + msg2 + b"NOOP\r\n")
        codes = [r.reply()[-1][:3] for _ in range(4)]
        assert codes == ["250"] * 4, codes
    finally:
        r.close()
    # BDAT data is not dot-stuffed: the "." and ".." lines are content.
    assert_delivered_exact(fetch_all(srv, "alice@example.test")[0], msg)
    assert_delivered_exact(fetch_all(srv, "bob@example.test")[0], msg2)


@t
def bdat_errors(f):
    srv = f.std()
    r = raw_smtp(srv)
    try:
        r.send("BDAT 5\r\nhello")  # no transaction
        rep = r.reply()
        assert rep[-1].startswith("503"), rep
        r.send("NOOP\r\n")  # and the 5 bytes were eaten, not read as a command
        assert r.reply()[-1].startswith("250")
        r.send("MAIL FROM:<s@example.org>\r\nRCPT TO:<alice@example.test>\r\nBDAT 3\r\nabcDATA\r\n")
        codes = [r.reply()[-1][:3] for _ in range(4)]
        assert codes[:3] == ["250", "250", "250"] and codes[3] == "503", codes  # no DATA after BDAT
        r.send("RSET\r\n")
        assert r.reply()[-1].startswith("250")
        # A size that is not a number: an error; the server may hang up
        # since it cannot know where the next command starts.
        r.send("BDAT x\r\n")
        assert r.reply()[-1][0] == "5"
    finally:
        r.close()
    assert pop3_count(srv, "alice@example.test") == 0


@t
def alias_delivery(f):
    srv = f.std()
    srv.cli("alias", "add", "info@example.test", "alice@example.test")
    srv.cli("alias", "add", "team@example.test", "alice@example.test")
    srv.cli("alias", "add", "team@example.test", "carol@example.org")
    msg = message(subject="alias", to="info@example.test")
    assert deliver(srv, "info@example.test", msg) == {}
    got = fetch_all(srv, "alice@example.test")
    assert len(got) == 1
    assert_delivered_exact(got[0], msg)
    assert deliver(srv, "team@example.test", message(subject="team")) == {}
    assert pop3_count(srv, "alice@example.test") == 2
    assert pop3_count(srv, "carol@example.org") == 1


@t
def eight_bit_body_exact(f):
    srv = f.std()
    body = bytes(range(128, 256)) * 3 + b"\r\n" + "Grüße, ĉu vi? 日本語\r\n".encode("utf-8") + \
        b"\xff\xfe\x80 latin1 \xe9\r\n" + b"\t tabs and trailing spaces   \r\n"
    msg = message(subject="8bit", body=body, extra=b"Content-Type: text/plain; charset=utf-8\r\n"
                  b"Content-Transfer-Encoding: 8bit\r\n")
    assert deliver(srv, "alice@example.test", msg, options=["BODY=8BITMIME"]) == {}
    got = fetch_all(srv, "alice@example.test")
    assert_delivered_exact(got[0], msg)


@t
def smtputf8_addresses(f):
    srv = f.std()
    s = smtp(srv)
    s.command_encoding = "utf-8"
    try:
        code, text = s.docmd("MAIL FROM:<pelé@example.org> SMTPUTF8 BODY=8BITMIME")
        assert code == 250, (code, text)
        code, text = s.rcpt("alice@example.test")
        assert code == 250, (code, text)
        msg = "From: pelé@example.org\r\nTo: alice@example.test\r\nSubject: ünïcode\r\n\r\nçava\r\n".encode()
        code, text = s.data(msg)
        assert code == 250, (code, text)
    finally:
        s.quit()
    got = fetch_all(srv, "alice@example.test")
    assert_delivered_exact(got[0], msg)
    assert got[0].startswith("Return-Path: <pelé@example.org>".encode()), got[0][:100]


@t
def dot_stuffing_and_long_lines(f):
    srv = f.std()
    body = b".starts with a dot\r\n..two\r\n.\r\nx\r\n" + b"L" * 5000 + b"\r\n" + b"end\r\n"
    msg = message(subject="dots", body=body)
    assert deliver(srv, "alice@example.test", msg) == {}
    # poplib limits lines to 2048 bytes; read this one raw.
    from mailcheck import pop3_multiline, raw_pop3
    from harness import PASSWORD
    r = raw_pop3(srv)
    try:
        for cmd in ("USER alice@example.test", "PASS " + PASSWORD, "RETR 1"):
            r.send(cmd + "\r\n")
            rep = r.line()
            assert rep.startswith("+OK"), (cmd, rep)
        lines = pop3_multiline(r)
    finally:
        r.close()
    stored = "".join(l + "\r\n" for l in lines).encode("latin-1", "replace")
    assert_delivered_exact(stored, msg)


@t
def large_message_20mb(f):
    srv = f.std(max_message_size="50M")
    line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_=+!?\r\n"
    body = line * (20 * 1024 * 1024 // len(line) + 1)
    msg = message(subject="twenty megabytes", body=body)
    assert len(msg) > 20 * 1024 * 1024
    s = smtp(srv, timeout=120)
    try:
        # smtplib adds SIZE=<len> itself.
        assert s.sendmail("sender@example.org", ["alice@example.test"], msg) == {}
    finally:
        s.quit()
    from mailcheck import pop3, retr
    p = pop3(srv, "alice@example.test", timeout=120)
    try:
        count, size = p.stat()
        assert count == 1
        got = retr(p, 1)
    finally:
        p.quit()
    assert_delivered_exact(got, msg)


@t
def received_hops_loop(f):
    srv = f.std()
    hops = b"".join(b"Received: from hop%d.example.net by hop%d.example.net; Thu, 1 Jan 2026 00:00:00 +0000\r\n"
                    % (i, i + 1) for i in range(120))
    msg = hops + message(subject="loop")
    s = smtp(srv)
    try:
        try:
            s.sendmail("sender@example.org", ["alice@example.test"], msg)
            raise AssertionError("a message with 120 Received headers was accepted")
        except smtplib.SMTPDataError as e:
            assert e.smtp_code >= 500, e
    finally:
        s.close()
    assert pop3_count(srv, "alice@example.test") == 0


@t
def many_sessions_at_once(f):
    import threading
    srv = f.std()
    errors = []

    def worker(n):
        try:
            for i in range(3):
                deliver(srv, "bob@example.test", message(subject="w%d-%d" % (n, i)))
        except Exception as e:  # reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not errors, errors
    got = fetch_all(srv, "bob@example.test")
    subjects = sorted(l for g in got for l in g.split(b"\r\n") if l.startswith(b"Subject: "))
    assert len(subjects) == 24 and len(set(subjects)) == 24, subjects


@t
def idle_client_does_not_block_others(f):
    srv = f.std()
    r = raw_smtp(srv)
    try:
        r.send("MAIL FROM:<sender@example.org>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
        for _ in range(3):
            r.reply()
        r.send("Subject: half\r\n\r\nhalf a mess")  # and then nothing
        t0 = time.time()
        assert deliver(srv, "bob@example.test", message(subject="meanwhile")) == {}
        assert time.time() - t0 < 20
    finally:
        r.close()
    assert pop3_count(srv, "bob@example.test") == 1
    assert pop3_count(srv, "alice@example.test") == 0, "half a message was stored"


suite.run(setup, teardown_all)
