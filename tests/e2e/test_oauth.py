"""OAuth 2.0 logins (issue 4): SASL XOAUTH2 and OAUTHBEARER (RFC 7628) on
SMTP submission and POP3, with JWTs signed by a key this test makes (RS256
through the openssl command line; the server checks them against a JWKS
file).  Valid tokens log in; expired, wrong audience, wrong issuer, bad
signature, unknown key id and another user's token are refused with the
RFC 7628 error exchange."""

import base64
import imaplib
import json
import os
import poplib
import smtplib
import socket
import subprocess
import tempfile
import time

from harness import Server, Suite, client_tls, stop_and_check

suite = Suite()
ALICE = "alice@example.test"
ISSUER = "https://id.example.test"
AUDIENCE = "tern-mail"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Keys:
    def __init__(self, dirname):
        self.key = os.path.join(dirname, "signing.pem")
        self.other = os.path.join(dirname, "other.pem")
        for k in (self.key, self.other):
            subprocess.run(["openssl", "genrsa", "-out", k, "2048"], check=True, capture_output=True)
        mod = subprocess.run(["openssl", "rsa", "-in", self.key, "-noout", "-modulus"], check=True,
                             capture_output=True, text=True).stdout.strip().split("=", 1)[1]
        self.jwks = os.path.join(dirname, "jwks.json")
        with open(self.jwks, "w") as f:
            json.dump({"keys": [{"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
                                 "n": b64url(bytes.fromhex(mod)), "e": "AQAB"}]}, f)

    def token(self, sub=ALICE, exp_in=600, aud=AUDIENCE, iss=ISSUER, kid="k1", key=None):
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "kid": kid}
        claims = {"iss": iss, "aud": aud, "email": sub, "sub": "id-" + sub, "iat": now - 5,
                  "nbf": now - 5, "exp": now + exp_in}
        signing_input = (b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())).encode()
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key or self.key], input=signing_input,
                             check=True, capture_output=True).stdout
        return signing_input.decode() + "." + b64url(sig)


_keys = None


def setup():
    global _keys
    srv = Server()
    if _keys is None:
        _keys = Keys(tempfile.mkdtemp(prefix="tern-oauth-"))
    with open(srv.conf, "a") as f:
        f.write("[oauth]\nissuer = %s\naudience = %s\njwks_file = %s\n" % (ISSUER, AUDIENCE, _keys.jwks))
        # Many refused tokens come from 127.0.0.1 here; brute-force
        # blocking has its own test (test_bruteforce.py).
        f.write("[bruteforce]\nallow = 127.0.0.0/8\n")
    srv.add_user(ALICE)
    srv.add_user("bob@example.test")
    return srv.start()


def xoauth2(user, token):
    return base64.b64encode(("user=%s\x01auth=Bearer %s\x01\x01" % (user, token)).encode()).decode()


def oauthbearer(user, token):
    return base64.b64encode(("n,a=%s,\x01host=mail.example.test\x01auth=Bearer %s\x01\x01"
                             % (user, token)).encode()).decode()


def submission(srv):
    s = smtplib.SMTP("127.0.0.1", srv.port("submission"))
    s.starttls(context=client_tls())
    s.ehlo("client.example.net")
    return s


def smtp_try(srv, mech, blob):
    """Returns (final code, error challenge JSON or None)."""
    s = submission(srv)
    try:
        code, text = s.docmd("AUTH", "%s %s" % (mech, blob))
        challenge = None
        if code == 334:
            challenge = json.loads(base64.b64decode(text))
            code, text = s.docmd("AQ==" if mech == "OAUTHBEARER" else "")
        return code, challenge
    finally:
        s.close()


def pop3_try(srv, mech, blob):
    """Returns (final response bytes, error challenge JSON or None)."""
    p = poplib.POP3("127.0.0.1", srv.port("pop3"))
    try:
        p._putcmd("AUTH %s %s" % (mech, blob))
        line, _ = p._getline()
        challenge = None
        if line.startswith(b"+ "):
            challenge = json.loads(base64.b64decode(line[2:]))
            p._putcmd("AQ==" if mech == "OAUTHBEARER" else "")
            line, _ = p._getline()
        return line, challenge
    finally:
        p.close()


def imap_try(srv, mech, blob, sasl_ir=True):
    """Returns (tagged line, error challenge JSON or None) of AUTHENTICATE."""
    sock = socket.create_connection(("127.0.0.1", srv.port("imap")), timeout=10)
    f = sock.makefile("rb")
    try:
        f.readline()
        if sasl_ir:
            sock.sendall(("a AUTHENTICATE %s %s\r\n" % (mech, blob)).encode())
        else:
            sock.sendall(("a AUTHENTICATE %s\r\n" % mech).encode())
            assert f.readline().startswith(b"+"), "no continuation"
            sock.sendall((blob + "\r\n").encode())
        line = f.readline()
        challenge = None
        if line.startswith(b"+ "):
            # RFC 7628 3.2.2: the error as a challenge, then the client's dummy.
            challenge = json.loads(base64.b64decode(line[2:]))
            sock.sendall(b"AQ==\r\n" if mech == "OAUTHBEARER" else b"\r\n")
            line = f.readline()
        return line, challenge
    finally:
        sock.close()


@suite.case
def mechanisms_advertised(srv):
    s = submission(srv)
    assert "OAUTHBEARER" in s.esmtp_features["auth"] and "XOAUTH2" in s.esmtp_features["auth"], s.esmtp_features
    s.quit()
    p = poplib.POP3("127.0.0.1", srv.port("pop3"))
    assert "XOAUTH2" in p.capa()["SASL"] and "OAUTHBEARER" in p.capa()["SASL"], p.capa()
    p.quit()
    m = imaplib.IMAP4("127.0.0.1", srv.port("imap"))
    assert "AUTH=XOAUTH2" in m.capabilities and "AUTH=OAUTHBEARER" in m.capabilities, m.capabilities
    m.logout()


@suite.case
def valid_tokens_log_in(srv):
    tok = _keys.token()
    for mech, enc in (("XOAUTH2", xoauth2), ("OAUTHBEARER", oauthbearer)):
        code, ch = smtp_try(srv, mech, enc(ALICE, tok))
        assert code == 235 and ch is None, (mech, code, ch)
        line, ch = pop3_try(srv, mech, enc(ALICE, tok))
        assert line.startswith(b"+OK") and ch is None, (mech, line)
        for ir in (True, False):
            line, ch = imap_try(srv, mech, enc(ALICE, tok), sasl_ir=ir)
            assert line.startswith(b"a OK") and ch is None, (mech, ir, line)
    # A user named in another case is the same user.
    code, _ = smtp_try(srv, "XOAUTH2", xoauth2("Alice@Example.TEST", tok))
    assert code == 235


@suite.case
def smtp_submission_with_token_sends(srv):
    s = submission(srv)
    tok = _keys.token()
    s.auth("XOAUTH2", lambda challenge=None: "user=%s\x01auth=Bearer %s\x01\x01" % (ALICE, tok),
           initial_response_ok=True)
    # submission refuses a message without a From the login owns (RFC 6409 8)
    assert s.sendmail(ALICE, ["bob@example.test"], b"From: <%s>\r\nSubject: via oauth\r\n\r\nhi\r\n" % ALICE.encode()) == {}
    s.quit()


@suite.case
def bad_tokens_refused_with_error_exchange(srv):
    cases = {
        "expired": _keys.token(exp_in=-3600),
        "wrong audience": _keys.token(aud="someone-else"),
        "wrong issuer": _keys.token(iss="https://evil.example"),
        "bad signature": _keys.token(key=_keys.other),
        "unknown key id": _keys.token(kid="nope"),
        "garbage": "not.a.token",
    }
    for what, tok in cases.items():
        for mech, enc in (("XOAUTH2", xoauth2), ("OAUTHBEARER", oauthbearer)):
            code, ch = smtp_try(srv, mech, enc(ALICE, tok))
            assert code == 535 and ch is not None and ch.get("status") == "invalid_token", (what, mech, code, ch)
        line, ch = pop3_try(srv, "XOAUTH2", xoauth2(ALICE, tok))
        assert line.startswith(b"-ERR [AUTH]") and ch is not None, (what, line, ch)
        line, ch = imap_try(srv, "OAUTHBEARER", oauthbearer(ALICE, tok))
        assert line.startswith(b"a NO [AUTHENTICATIONFAILED]") and ch is not None, (what, line, ch)
    log = srv.tail(400)
    for reason in ("expired", "audience", "issuer", "signature", "key id"):
        assert reason in log, "no log line gives the reason %r" % reason


@suite.case
def token_for_another_user_refused(srv):
    tok = _keys.token(sub="bob@example.test")
    code, ch = smtp_try(srv, "XOAUTH2", xoauth2(ALICE, tok))
    assert code == 535 and ch is not None, code
    # ...but it is fine for bob himself.
    code, _ = smtp_try(srv, "XOAUTH2", xoauth2("bob@example.test", tok))
    assert code == 235


@suite.case
def tokens_work_when_passwords_are_off(srv):
    stop_and_check_keep = srv.stop()
    assert stop_and_check_keep == 0
    with open(srv.conf) as f:
        text = f.read()
    with open(srv.conf, "w") as f:
        f.write(text.replace("allow_plaintext = loopback", "allow_plaintext = loopback\nbasic = off"))
    srv.start()
    s = submission(srv)
    assert s.esmtp_features["auth"].split() == ["OAUTHBEARER", "XOAUTH2"], s.esmtp_features
    s.quit()
    code, _ = smtp_try(srv, "XOAUTH2", xoauth2(ALICE, _keys.token()))
    assert code == 235
    m = imaplib.IMAP4("127.0.0.1", srv.port("imap"))
    assert "LOGINDISABLED" in m.capabilities and "AUTH=PLAIN" not in m.capabilities, m.capabilities
    m.logout()
    line, _ = imap_try(srv, "XOAUTH2", xoauth2(ALICE, _keys.token()))
    assert line.startswith(b"a OK"), line


suite.run(setup, stop_and_check)
