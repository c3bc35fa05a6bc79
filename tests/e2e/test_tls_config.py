"""TLS settings (issue 4): certificates chosen by SNI name, cipher lists
from the configuration, TLS 1.3 preferred, and dropping root privileges
after binding the ports ([server] user)."""

import os
import pwd
import shutil
import socket
import ssl
import subprocess

from harness import Server, Suite, stop_and_check

suite = Suite()


def make_cert(dirname, cn):
    cert, key = os.path.join(dirname, cn + ".pem"), os.path.join(dirname, cn + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=" + cn,
                    "-addext", "subjectAltName=DNS:" + cn, "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


def handshake(port, server_name=None, ctx=None):
    if ctx is None:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname=server_name) as t:
            der = t.getpeercert(binary_form=True)
            info = (t.version(), t.cipher()[0])
    subject = subprocess.run(["openssl", "x509", "-noout", "-subject"], input=ssl.DER_cert_to_PEM_cert(der),
                             capture_output=True, text=True).stdout
    return subject, info


def with_tls_lines(srv, lines):
    with open(srv.conf) as f:
        text = f.read()
    with open(srv.conf, "w") as f:
        f.write(text.replace("[listen]", "\n".join(lines) + "\n[listen]", 1))


@suite.case
def sni_picks_the_certificate(_):
    srv = Server()
    try:
        c1, k1 = make_cert(srv.dir, "mail.example.org")
        c2, k2 = make_cert(srv.dir, "mx.example.net")
        with_tls_lines(srv, ["sni = %s:%s, %s:%s" % (c1, k1, c2, k2)])
        srv.start()
        port = srv.port("pop3s")
        assert "mail.example.org" in handshake(port, "mail.example.org")[0]
        assert "mx.example.net" in handshake(port, "mx.example.net")[0]
        assert "mail.example.test" in handshake(port, "other.example")[0]
        assert "mail.example.test" in handshake(port, None)[0]
    finally:
        stop_and_check(srv)


@suite.case
def tls13_preferred_and_cipher_lists_apply(_):
    srv = Server()
    try:
        with_tls_lines(srv, ["ciphers = ECDHE+AESGCM", "ciphersuites = TLS_CHACHA20_POLY1305_SHA256"])
        srv.start()
        port = srv.port("submissions")
        version, cipher = handshake(port)[1]
        assert version == "TLSv1.3" and cipher == "TLS_CHACHA20_POLY1305_SHA256", (version, cipher)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        version, cipher = handshake(port, ctx=ctx)[1]
        assert version == "TLSv1.2" and cipher.startswith("ECDHE-") and "GCM" in cipher, (version, cipher)
        ctx.set_ciphers("ECDHE-RSA-CHACHA20-POLY1305")
        try:
            handshake(port, ctx=ctx)
            raise AssertionError("a cipher outside [tls] ciphers was accepted")
        except (ssl.SSLError, ConnectionResetError):
            pass
    finally:
        stop_and_check(srv)


@suite.case
def bad_cipher_list_named_at_start(_):
    srv = Server()
    try:
        with_tls_lines(srv, ["ciphers = NO-SUCH-CIPHER"])
        srv.log = open(srv.log_path, "ab")
        r = subprocess.run([os.environ.get("TERN_BIN", "build/tern"), "serve", "--config", srv.conf],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode != 0 and "ciphers" in r.stderr, (r.returncode, r.stderr[-500:])
        srv.log.close()
    finally:
        srv.cleanup()


@suite.case
def drops_root_after_binding(_):
    if os.geteuid() != 0:
        print("# not root: privilege dropping cannot be tried here")
        return
    srv = Server()
    try:
        with open(srv.conf) as f:
            text = f.read()
        with open(srv.conf, "w") as f:
            f.write(text.replace("[server]\n", "[server]\nuser = nobody\n", 1))
        nobody = pwd.getpwnam("nobody")
        for root, dirs, files in os.walk(srv.data):
            for n in dirs + files:
                os.chown(os.path.join(root, n), nobody.pw_uid, nobody.pw_gid)
        os.chown(srv.data, nobody.pw_uid, nobody.pw_gid)
        os.chmod(srv.dir, 0o755)      # mkdtemp's 0700 would keep nobody out
        srv.start()
        with open("/proc/%d/status" % srv.proc.pid) as f:
            status = f.read()
        uid_line = [l for l in status.splitlines() if l.startswith("Uid:")][0]
        assert uid_line.split()[1:] == [str(nobody.pw_uid)] * 4, uid_line
        assert "privileges dropped user=nobody" in srv.tail(50)
        # Still serves, and what it creates belongs to nobody.
        import smtplib
        s = smtplib.SMTP("127.0.0.1", srv.port("smtp"))
        s.ehlo("client.example.net")
        s.mail("a@example.net")
        assert s.rcpt("postmaster@example.test")[0] in (250, 550)
        s.quit()
        assert os.stat(os.path.join(srv.data, "penalty.db")).st_uid == nobody.pw_uid
    finally:
        stop_and_check(srv)


suite.run(lambda: None, lambda _: None)
