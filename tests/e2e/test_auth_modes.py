"""[auth] basic and app passwords (issue 4): with basic = off passwords
are refused everywhere with an answer that names OAuth and the password
mechanisms are not advertised; app passwords work for the protocols they
were made for and stop working when revoked; with app-passwords-only the
account password is refused; reject-mail users get 550 5.2.1."""

import poplib
import re
import smtplib

from harness import PASSWORD, Server, Suite, client_tls, stop_and_check

suite = Suite()
ALICE = "alice@example.test"


def start(basic="on"):
    srv = Server()
    with open(srv.conf) as f:
        text = f.read()
    text = text.replace("allow_plaintext = loopback", "allow_plaintext = loopback\nbasic = " + basic)
    with open(srv.conf, "w") as f:
        f.write(text)
    srv.add_user(ALICE)
    return srv.start()


def pop3_login(srv, user, password):
    p = poplib.POP3("127.0.0.1", srv.port("pop3"))
    try:
        p.user(user)
        p.pass_(password)
        p.quit()
        return None
    except poplib.error_proto as e:
        return str(e)


def smtp_login(srv, user, password):
    s = smtplib.SMTP("127.0.0.1", srv.port("submission"))
    s.starttls(context=client_tls())
    try:
        s.login(user, password)
        s.quit()
        return None
    except smtplib.SMTPException as e:
        s.close()
        return e


def app_password(srv, name, protocols):
    out = srv.cli("user", "app-password", "add", ALICE, name, "--protocols", protocols).stdout
    m = re.search(r"\b([a-z]{4} [a-z]{4} [a-z]{4} [a-z]{4})\b", out)
    assert m, out
    return m.group(1)


@suite.case
def basic_off_refuses_passwords_everywhere(_):
    srv = start("off")
    try:
        s = smtplib.SMTP("127.0.0.1", srv.port("submission"))
        s.starttls(context=client_tls())
        s.ehlo("client.example.net")
        assert "PLAIN" not in s.esmtp_features.get("auth", ""), s.esmtp_features
        code, text = s.docmd("AUTH", "PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABwdw==")
        assert code == 504 and b"5.7.4" in text and b"OAuth" in text, (code, text)
        s.quit()
        p = poplib.POP3("127.0.0.1", srv.port("pop3"))
        caps = p.capa()
        assert "USER" not in caps and "PLAIN" not in caps.get("SASL", []), caps
        try:
            p.user(ALICE)
            raise AssertionError("USER accepted with basic = off")
        except poplib.error_proto as e:
            assert b"[AUTH]" in e.args[0] and b"OAuth" in e.args[0], e
        p.quit()
        assert "basic = off" in srv.cli("config", "check").stdout
    finally:
        stop_and_check(srv)


@suite.case
def app_password_per_protocol_and_revoked(_):
    srv = start("on")
    try:
        pw = app_password(srv, "phone", "pop3")
        assert pop3_login(srv, ALICE, pw) is None
        assert pop3_login(srv, ALICE, pw.replace(" ", "").upper()) is None
        assert pop3_login(srv, ALICE, PASSWORD) is None           # the account password too
        err = smtp_login(srv, ALICE, pw)
        assert isinstance(err, smtplib.SMTPAuthenticationError) and err.smtp_code == 535, err
        listing = srv.cli("user", "app-password", "list", ALICE).stdout
        assert "phone" in listing and "127.0.0.1" in listing, listing
        srv.cli("user", "app-password", "revoke", ALICE, "phone")
        assert "[AUTH]" in pop3_login(srv, ALICE, pw)
    finally:
        stop_and_check(srv)


@suite.case
def app_passwords_only(_):
    srv = start("app-passwords-only")
    try:
        pw = app_password(srv, "laptop", "pop3,smtp")
        assert "[AUTH]" in pop3_login(srv, ALICE, PASSWORD)
        err = smtp_login(srv, ALICE, PASSWORD)
        assert isinstance(err, smtplib.SMTPAuthenticationError), err
        assert pop3_login(srv, ALICE, pw) is None
        assert smtp_login(srv, ALICE, pw) is None
    finally:
        stop_and_check(srv)


@suite.case
def reject_mail_user_gets_550_5_2_1(_):
    srv = start("on")
    try:
        srv.cli("user", "set", ALICE, "--reject-mail", "on")
        s = smtplib.SMTP("127.0.0.1", srv.port("smtp"))
        s.ehlo("client.example.net")
        s.mail("a@example.net")
        code, text = s.rcpt(ALICE)
        assert code == 550 and text.startswith(b"5.2.1"), (code, text)
        s.quit()
    finally:
        stop_and_check(srv)


suite.run(lambda: None, lambda _: None)
