"""End-to-end tests of TLS: STARTTLS (RFC 3207) and STLS (RFC 2595),
implicit TLS on 465 and 995, the command-injection defence (CVE-2011-0411
style: plaintext pipelined after STARTTLS must be discarded), protocol
versions, and what happens without a certificate."""

import os
import poplib
import socket
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import PASSWORD, Raw, Suite, certificate, client_tls  # noqa: E402
from mailcheck import (  # noqa: E402
    HOST, TLS_NAME, assert_delivered_exact, case, deliver, expect_pop_error, fetch_all, message, pop3,
    pop3_count, quiet_socket, raw_pop3, raw_smtp, retr, setup, smtp, submission, teardown_all)

suite = Suite()
t = case(suite)

ALICE = "alice@example.test"


@t
def smtp_starttls(f):
    srv = f.std()
    s = smtp(srv)
    try:
        assert "starttls" in s.esmtp_features
        code, text = s.starttls(context=client_tls())
        assert code == 220, (code, text)
        assert isinstance(s.sock, ssl.SSLSocket)
        assert s.sock.version() in ("TLSv1.2", "TLSv1.3"), s.sock.version()
        s.ehlo()
        assert "starttls" not in s.esmtp_features, "STARTTLS offered inside TLS"
        code, text = s.docmd("STARTTLS")
        assert code == 503 or code == 502 or code == 454, "second STARTTLS: %d %r" % (code, text)
        msg = message(subject="over tls")
        assert s.sendmail("sender@example.org", [ALICE], msg) == {}
    finally:
        s.quit()
    got = fetch_all(srv, ALICE)
    assert_delivered_exact(got[0], msg)
    # The Received header may say TLS was used; at least it is there.
    assert b"Received:" in got[0]


@t
def smtp_starttls_injection_discarded(f):
    srv = f.std()
    r = raw_smtp(srv)
    try:
        r.send("STARTTLS\r\nRSET\r\n")
        rep = r.reply()
        assert rep[-1].startswith("220"), rep
        assert r.buf == b"", "data after the 220: %r" % r.buf
        stray = quiet_socket(r.sock, 0.5)
        assert stray == b"", "plaintext answer to the injected command: %r" % stray
        r.starttls()
        r.send("VRFY postmaster\r\n")
        rep = r.reply()
        assert rep[-1].startswith("252"), "stray reply after the handshake: %r" % rep
        r.send("EHLO client.example.org\r\n")
        rep = r.reply()
        assert rep[-1].startswith("250"), rep
    finally:
        r.close()


@t
def smtp_starttls_injection_transaction(f):
    srv = f.std()
    r = raw_smtp(srv)
    try:
        # The classic attack: a transaction hidden after STARTTLS.
        r.send("STARTTLS\r\nMAIL FROM:<evil@example.org>\r\nRCPT TO:<alice@example.test>\r\n")
        rep = r.reply()
        assert rep[-1].startswith("220"), rep
        assert quiet_socket(r.sock, 0.5) == b""
        r.starttls()
        r.send("VRFY postmaster\r\n")
        rep = r.reply()
        assert rep[-1].startswith("252"), "stray reply after the handshake: %r" % rep
        r.send("EHLO client.example.org\r\n")
        rep = r.reply()
        assert rep[-1].startswith("250"), rep
        r.send("DATA\r\n")
        rep = r.reply()
        assert rep[-1].startswith("503") or rep[-1].startswith("554"), \
            "a transaction survived STARTTLS: %r" % rep
    finally:
        r.close()
    assert pop3_count(srv, ALICE) == 0


@t
def submission_starttls_injection(f):
    srv = f.std()
    r = raw_smtp(srv, "submission")
    try:
        r.send("STARTTLS\r\nNOOP\r\n")
        rep = r.reply()
        assert rep[-1].startswith("220"), rep
        assert quiet_socket(r.sock, 0.5) == b""
        r.starttls()
        r.send("VRFY postmaster\r\n")
        rep = r.reply()
        assert rep[-1][0] in "25" and not rep[-1].startswith("250 "), "stray reply: %r" % rep
    finally:
        r.close()


@t
def pop3_stls(f):
    srv = f.std()
    deliver(srv, ALICE, message(subject="pop over stls"))
    p = pop3(srv, tls="stls")
    try:
        assert isinstance(p.sock, ssl.SSLSocket)
        p.user(ALICE)
        p.pass_(PASSWORD)
        assert p.stat()[0] == 1
        expect_pop_error(lambda: p._shortcmd("STLS"))
    finally:
        p.quit()


@t
def pop3_stls_injection_discarded(f):
    srv = f.std()
    r = raw_pop3(srv)
    try:
        r.send("STLS\r\nCAPA\r\n")
        rep = r.line()
        assert rep.startswith("+OK"), rep
        assert r.buf == b"", "data after the +OK: %r" % r.buf
        assert quiet_socket(r.sock, 0.5) == b"", "plaintext answer to the injected command"
        r.starttls()
        r.send("FROB\r\n")
        rep = r.line()
        assert rep.startswith("-ERR"), "stray reply after the handshake: %r" % rep
        r.send("USER %s\r\nPASS %s\r\nSTAT\r\n" % (ALICE, PASSWORD))
        for want in ("+OK", "+OK", "+OK 0 0"):
            rep = r.line()
            assert rep.startswith(want), (want, rep)
    finally:
        r.close()


@t
def implicit_tls_ports(f):
    srv = f.std()
    msg = message(subject="implicit", sender=ALICE, to="bob@example.test")
    s = submission(srv, ALICE, implicit=True)
    try:
        assert "starttls" not in s.esmtp_features
        assert s.sendmail(ALICE, ["bob@example.test"], msg) == {}
    finally:
        s.quit()
    p = pop3(srv, "bob@example.test", tls="implicit")
    try:
        assert isinstance(p.sock, ssl.SSLSocket)
        assert "STLS" not in p.capa()
        assert_delivered_exact(retr(p, 1), msg)
    finally:
        p.quit()


@t
def certificate_is_served(f):
    srv = f.std()
    for service in ("pop3s", "submissions"):
        ctx = client_tls()  # verifies chain and name
        with socket.create_connection((HOST, srv.port(service)), timeout=10) as sock:
            with ctx.wrap_socket(sock, server_hostname=TLS_NAME) as tls:
                cert = tls.getpeercert()
                cn = dict(x[0] for x in cert["subject"])["commonName"]
                assert cn == TLS_NAME, cert
    # A wrong name fails verification: the server's certificate is the test one.
    ctx = client_tls()
    with socket.create_connection((HOST, srv.port("pop3s")), timeout=10) as sock:
        try:
            ctx.wrap_socket(sock, server_hostname="other.example.net")
            raise AssertionError("certificate accepted for the wrong name")
        except ssl.SSLCertVerificationError:
            pass


@t
def old_tls_versions_refused(f):
    srv = f.std()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(certificate()[0])
    try:
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        pass
    with socket.create_connection((HOST, srv.port("pop3s")), timeout=10) as sock:
        try:
            tls = ctx.wrap_socket(sock, server_hostname=TLS_NAME)
            v = tls.version()
            tls.close()
            raise AssertionError("handshake succeeded with %s" % v)
        except (ssl.SSLError, ConnectionResetError, OSError):
            pass
    for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = client_tls()
        ctx.minimum_version = v
        ctx.maximum_version = v
        p = poplib.POP3_SSL(HOST, srv.port("pop3s"), timeout=10, context=ctx)
        try:
            assert p.sock.version() == ("TLSv1.2" if v == ssl.TLSVersion.TLSv1_2 else "TLSv1.3")
            p.user(ALICE)
            p.pass_(PASSWORD)
        finally:
            p.quit()


@t
def plaintext_on_tls_port(f):
    srv = f.std()
    for service in ("pop3s", "submissions"):
        r = Raw(srv.port(service))
        try:
            r.send("CAPA\r\nEHLO x\r\n" + "garbage " * 100 + "\r\n")
            assert r.closed(10), "%s kept a non-TLS client connected" % service
        finally:
            r.close()
    # And the server still serves.
    p = pop3(srv, ALICE, tls="implicit")
    p.quit()


@t
def stalled_handshake_does_not_block(f):
    srv = f.std()
    stalled = [socket.create_connection((HOST, srv.port(s)), timeout=10) for s in ("pop3s", "submissions")]
    half = Raw(srv.port("pop3"))
    half.line()
    half.send("STLS\r\n")
    half.line()  # and never start the handshake
    try:
        p = pop3(srv, ALICE, tls="implicit")
        p.quit()
        s = submission(srv, ALICE, implicit=True)
        s.quit()
    finally:
        for s in stalled:
            s.close()
        half.close()


@t
def no_certificate_no_starttls(f):
    srv = f.bare(tls=False)
    # Without [tls] there are no implicit-TLS listeners.
    srv.add_user(ALICE)
    srv.start()
    s = smtp(srv)
    try:
        assert "starttls" not in s.esmtp_features, s.ehlo_resp
        code, text = s.docmd("STARTTLS")
        assert code in (454, 502, 503), (code, text)
        assert s.sendmail("sender@example.org", [ALICE], message()) == {}
    finally:
        s.quit()
    p = pop3(srv)
    try:
        assert "STLS" not in p.capa()
        expect_pop_error(lambda: p._shortcmd("STLS"))
        p.user(ALICE)  # loopback plaintext allowed by the harness config
        p.pass_(PASSWORD)
        assert p.stat()[0] == 1
    finally:
        p.quit()


@t
def tls_session_close_notify_and_reconnect(f):
    srv = f.std()
    # Many short TLS sessions (full handshakes) in a row: no leak, no stall.
    for i in range(20):
        p = pop3(srv, tls="implicit")
        if i % 2:
            p.quit()
        else:
            p.sock.close()  # abrupt, without close_notify
    p = pop3(srv, ALICE, tls="implicit")
    p.quit()


suite.run(setup, teardown_all)
