"""A server that stops tells its IMAP clients (RFC 9051 7.1.5: BYE when
the server is shutting down), including one in IDLE, and still exits 0."""

import socket

from harness import PASSWORD, Server, Suite, stop_and_check

suite = Suite()
USER = "alice@example.test"


def setup():
    srv = Server()
    srv.add_user(USER)
    return srv.start()


def read_until(f, prefix):
    lines = []
    while True:
        line = f.readline()
        if not line:
            return lines, None
        lines.append(line)
        if line.startswith(prefix):
            return lines, line


@suite.case
def sigterm_says_bye_to_idle_and_plain_sessions(srv):
    sessions = []
    for idle in (True, False):
        s = socket.create_connection(("127.0.0.1", srv.port("imap")), timeout=10)
        f = s.makefile("rb")
        f.readline()                                   # greeting
        s.sendall(b'a LOGIN %s "%s"\r\n' % (USER.encode(), PASSWORD.encode()))
        _, tagged = read_until(f, b"a ")
        assert tagged.startswith(b"a OK"), tagged
        s.sendall(b"b SELECT INBOX\r\n")
        _, tagged = read_until(f, b"b ")
        assert tagged.startswith(b"b OK"), tagged
        if idle:
            s.sendall(b"c IDLE\r\n")
            assert f.readline().startswith(b"+ "), "no IDLE continuation"
        sessions.append((s, f))
    status = srv.stop()
    assert status == 0, status
    for s, f in sessions:
        lines, bye = read_until(f, b"* BYE")
        assert bye is not None and b"shutting down" in bye, lines
        assert f.readline() == b"", "the connection stays open after BYE"
        s.close()


def teardown(srv):
    # The case stops the server itself; stop it here only if it did not.
    if srv.proc is not None and srv.proc.poll() is None:
        stop_and_check(srv)
    else:
        srv.cleanup()


suite.run(setup, teardown)
