"""The Exchange admin's switches: a service switched off in the
configuration does not listen at all, the others are unaffected."""

import poplib
import smtplib
import socket

from harness import PASSWORD, Server, Suite, stop_and_check

suite = Suite()


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True


def server_with(extra, off):
    srv = Server(extra=extra)
    srv.add_user("alice@example.test")
    ports = dict(srv.ports)
    for s in off:
        del srv.ports[s]          # do not wait for them to listen
    srv.start()
    srv.ports = ports
    return srv


@suite.case
def pop3_switched_off(_):
    srv = server_with("[pop3]\nenabled = no\n", ("pop3", "pop3s"))
    try:
        assert refused(srv.port("pop3")) and refused(srv.port("pop3s"))
        s = smtplib.SMTP("127.0.0.1", srv.port("smtp"))
        s.sendmail("a@example.net", ["alice@example.test"], b"Subject: x\r\n\r\nx\r\n")
        s.quit()
        assert "pop3: service switched off" in srv.tail(100)
        out = srv.cli("config", "check").stdout
        assert "[pop3]\nenabled = no" in out, out
    finally:
        stop_and_check(srv)


@suite.case
def submission_switched_off(_):
    srv = server_with("[submission]\nenabled = off\n", ("submission", "submissions"))
    try:
        assert refused(srv.port("submission")) and refused(srv.port("submissions"))
        p = poplib.POP3("127.0.0.1", srv.port("pop3"))
        p.user("alice@example.test")
        p.pass_(PASSWORD)
        p.quit()
    finally:
        stop_and_check(srv)


@suite.case
def bad_switch_value_names_the_line(_):
    srv = Server()
    with open(srv.conf, "a") as f:
        f.write("[pop3]\nenabled = maybe\n")
    try:
        r = srv.cli("config", "check", check=False)
        assert r.returncode != 0
        assert "enabled must be yes or no" in r.stderr, r.stderr
        assert srv.conf + ":" in r.stderr, r.stderr
    finally:
        srv.cleanup()


@suite.case
def serve_on_a_fresh_data_dir(_):
    # `tern serve` must come up on an install whose data_dir does not
    # exist yet, and keep what it creates private.
    import os
    import shutil
    srv = Server()
    shutil.rmtree(srv.data)
    try:
        srv.start()
        mode = os.stat(srv.data).st_mode & 0o777
        assert mode == 0o700, oct(mode)
        for name in os.listdir(srv.data):
            path = os.path.join(srv.data, name)
            assert os.stat(path).st_mode & 0o077 == 0, (name, oct(os.stat(path).st_mode))
    finally:
        stop_and_check(srv)


suite.run(lambda: None, lambda _: None)
