"""Signals: SIGHUP reloads the TLS certificate without dropping open
connections; SIGTERM lets a transaction in flight finish and exits 0."""

import os
import poplib
import shutil
import signal
import socket
import smtplib
import ssl
import subprocess
import threading
import time

from harness import PASSWORD, Server, Suite, certificate, stop_and_check

suite = Suite()


def make_cert(dirname, cn):
    cert, key = os.path.join(dirname, "c.pem"), os.path.join(dirname, "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=" + cn, "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


def served_cn(port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with ctx.wrap_socket(s) as t:
            der = t.getpeercert(binary_form=True)
    pem = ssl.DER_cert_to_PEM_cert(der)
    out = subprocess.run(["openssl", "x509", "-noout", "-subject"], input=pem, capture_output=True, text=True)
    return out.stdout.strip()


class CopyCertServer(Server):
    """A server whose certificate files are its own copies, to replace."""

    def __init__(self):
        super().__init__()
        cert, key = certificate()
        self.cert = os.path.join(self.dir, "cert.pem")
        self.key = os.path.join(self.dir, "key.pem")
        shutil.copy(cert, self.cert)
        shutil.copy(key, self.key)
        with open(self.conf) as f:
            text = f.read()
        text = text.replace("cert = " + cert, "cert = " + self.cert).replace("key = " + key, "key = " + self.key)
        with open(self.conf, "w") as f:
            f.write(text)


def setup():
    srv = CopyCertServer()
    srv.add_user("alice@example.test")
    return srv.start()


@suite.case
def sighup_reloads_certificate_and_keeps_connections(srv):
    assert "mail.example.test" in served_cn(srv.port("pop3s"))
    ctx = ssl.create_default_context(cafile=certificate()[0])
    old = poplib.POP3_SSL("127.0.0.1", srv.port("pop3s"), context=ctx)
    old.user("alice@example.test")
    old.pass_(PASSWORD)

    new_cert, new_key = make_cert(srv.dir, "reloaded.example.test")
    shutil.copy(new_cert, srv.cert)
    shutil.copy(new_key, srv.key)
    srv.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while "reloaded.example.test" not in served_cn(srv.port("pop3s")):
        assert time.time() < deadline, "certificate not reloaded"
        time.sleep(0.1)
    # The connection opened before the reload still works.
    assert old.stat() == (0, 0)
    old.quit()
    assert "tls certificate reloaded" in srv.tail(200)


@suite.case
def sighup_with_broken_certificate_keeps_the_old_one(srv):
    with open(srv.cert, "w") as f:
        f.write("not a certificate\n")
    srv.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while "reload failed" not in srv.tail(200):
        assert time.time() < deadline, "no error logged"
        time.sleep(0.1)
    assert "mail.example.test" in served_cn(srv.port("pop3s"))


@suite.case
def sigterm_finishes_transaction_in_flight(srv):
    # A message is being received when SIGTERM comes: it is finished and
    # acknowledged, then the server exits 0.
    body = b"From: a@example.net\r\nSubject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 8000
    s = smtplib.SMTP("127.0.0.1", srv.port("smtp"))
    s.ehlo("client.example.net")
    s.mail("a@example.net")
    s.rcpt("alice@example.test")
    code, _ = s.docmd("DATA")
    assert code == 354
    # SIGTERM arrives while the message is still arriving.
    s.send(body[:len(body) // 2])
    time.sleep(0.3)
    srv.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert srv.proc.poll() is None, "server exited in the middle of a message"
    # New connections are no longer accepted...
    try:
        socket.create_connection(("127.0.0.1", srv.port("smtp")), timeout=2).close()
        accepted = True
    except OSError:
        accepted = False
    s.send(body[len(body) // 2:] + b".\r\n")
    code, msg = s.getreply()
    assert code == 250, (code, msg)
    assert srv.proc.wait(30) == 0
    assert not accepted, "a new connection was accepted during shutdown"
    srv.proc = None
    srv.log.close()
    srv.start()
    p = poplib.POP3("127.0.0.1", srv.port("pop3"))
    p.user("alice@example.test")
    p.pass_(PASSWORD)
    assert p.stat()[0] == 1
    p.quit()


suite.run(setup, stop_and_check)
