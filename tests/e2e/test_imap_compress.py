"""End-to-end tests of COMPRESS=DEFLATE (RFC 4978) driven by Python's zlib
(raw DEFLATE, wbits -15, a sync flush after each client write): after the
uncompressed tagged OK both directions are compressed, and every command
works the same, on the plain port, on implicit TLS and after STARTTLS;
pushes during IDLE are flushed at once; bad compressed data closes the
connection without harming the server."""

import os
import re
import socket
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Suite  # noqa: E402
from imapcheck import Lit, fetches, select, shared_suite, status_of  # noqa: E402
from mailcheck import message, smtp  # noqa: E402

suite = Suite()
t, run = shared_suite(suite)

BIG = b"Subject: compressible\r\n\r\n" + b"The same line of text, again and again.\r\n" * 5000


def put_big(f, user):
    """BIG in the user's INBOX, appended without compression."""
    c = f.conn(user)
    try:
        c.send(b"big APPEND INBOX {%d+}\r\n" % len(BIG) + BIG + b"\r\n")
        u, tagged = c.read_until_tagged("big")
        assert tagged.startswith("big OK"), tagged
    finally:
        c.logout()


def exercise(c, user, srv):
    """Commands after COMPRESS: the answers are those of an uncompressed
    session.  BIG is the user's first message."""
    c.sock.settimeout(5)
    caps = c.ok("CAPABILITY")[0].decode().upper().split()
    assert "COMPRESS=DEFLATE" not in caps and "IMAP4REV2" in caps, caps
    u, tagged = c.cmd("COMPRESS DEFLATE", tag="again")
    assert tagged.startswith("again NO [COMPRESSIONACTIVE]") or tagged.startswith("again BAD"), tagged
    # APPEND with a synchronising and a non-synchronising literal.
    for sync in (True, False):
        u, tagged, sent = c.cmd_literals(["APPEND INBOX ", Lit(b"Subject: small\r\n\r\nsmall\r\n", sync=sync)])
        assert sent and " OK [APPENDUID" in tagged, tagged
    info = select(c)
    assert info["EXISTS"] == 3, info
    before = c.raw_in
    fs = fetches(c.ok("FETCH 1 (BODY.PEEK[])"))
    assert fs[1]["BODY[]"] == BIG, "compressed FETCH differs"
    wire = c.raw_in - before
    assert wire < len(BIG) // 10, "%d bytes on the wire for a %d-byte repetitive message" % (wire, len(BIG))
    st = status_of(c.ok("STATUS Drafts (MESSAGES)"))
    assert st["Drafts"]["MESSAGES"] == 0, st
    # A push during IDLE is flushed through the compressor at once.
    c.send("idle IDLE\r\n")
    assert c.response().startswith(b"+")
    s = smtp(srv)
    s.sendmail("sender@example.org", [user], message(subject="compressed push", to=user))
    s.quit()
    r = c.response()
    assert r == b"* 4 EXISTS", r
    c.send("DONE\r\n")
    u, tagged = c.read_until_tagged("idle")
    assert tagged.startswith("idle OK"), tagged
    # Client data in tiny compressed pieces.
    data = c.deflate.compress(b"tiny NOOP\r\n") + c.deflate.flush(zlib.Z_SYNC_FLUSH)
    for i in range(len(data)):
        c.sock.sendall(data[i:i + 1])
    u, tagged = c.read_until_tagged("tiny")
    assert tagged.startswith("tiny OK"), tagged
    # Several commands in one compressed block.
    c.send("m1 NOOP\r\nm2 FETCH 1 (FLAGS)\r\nm3 NOOP\r\n")
    for tag in ("m1", "m2", "m3"):
        u, tagged = c.read_until_tagged(tag)
        assert tagged.startswith(tag + " OK"), tagged
    # Client data that inflates to more than the server's input buffer
    # (64 KiB) in one go: a big repetitive APPEND, many pipelined NOOPs.
    c.send(b"big2 APPEND INBOX {%d+}\r\n" % len(BIG) + BIG + b"\r\n")
    try:
        u, tagged = c.read_until_tagged("big2")
    except (socket.timeout, TimeoutError):
        raise AssertionError("no answer within 5 s to a compressed APPEND whose %d bytes inflate from %d: "
                             "the session stalls" % (len(BIG), len(zlib.compress(BIG))))
    assert tagged.startswith("big2 OK"), tagged
    c.send(b"".join(b"n%d NOOP\r\n" % i for i in range(20000)))
    for i in range(20000):
        try:
            u, tagged = c.read_until_tagged("n%d" % i)
        except (socket.timeout, TimeoutError):
            raise AssertionError("20000 pipelined compressed NOOPs: no answer after n%d" % (i - 1))
        assert tagged.startswith("n%d OK" % i), tagged
    c.send("bye LOGOUT\r\n")
    u, tagged = c.read_until_tagged("bye")
    assert u[0].startswith(b"* BYE") and tagged.startswith("bye OK"), (u, tagged)
    assert c.closed()


@t
def compress_on_plain_port(f):
    user = f.user()
    put_big(f, user)
    c = f.conn(user)
    try:
        tagged = c.compress()
        assert re.match(r"t\d+ OK", tagged), tagged
        exercise(c, user, f.srv)
    finally:
        c.close()


@t
def compress_on_implicit_tls(f):
    user = f.user()
    put_big(f, user)
    c = f.conn(user, tls=True, service="imaps")
    try:
        c.compress()
        exercise(c, user, f.srv)
    finally:
        c.close()


@t
def compress_after_starttls(f):
    user = f.user()
    put_big(f, user)
    c = f.conn()
    try:
        c.starttls()
        c.login(user)
        c.compress()
        exercise(c, user, f.srv)
    finally:
        c.close()


@t
def compress_bad_arguments_and_state(f):
    user = f.user()
    c = f.conn()
    try:
        u, tagged = c.cmd("COMPRESS DEFLATE", tag="pre")
        assert tagged.startswith("pre BAD") or tagged.startswith("pre NO"), tagged
        c.login(user)
        for bad in ("COMPRESS", "COMPRESS GZIP", "COMPRESS DEFLATE extra"):
            u, tagged = c.cmd(bad, tag="bad")
            assert tagged.startswith("bad BAD") or tagged.startswith("bad NO"), (bad, tagged)
        c.ok("NOOP")
    finally:
        c.logout()


@t
def corrupt_compressed_input_closes(f):
    user = f.user()
    c = f.conn(user)
    try:
        c.compress()
        c.ok("NOOP")
        # Not a DEFLATE stream: the server hangs up; nothing else breaks.
        c.sock.sendall(b"\xff" * 64 + b"x NOOP\r\n")
        assert c.closed(10), "still connected after corrupt compressed data"
    finally:
        c.close()
    c = f.conn(user)
    try:
        c.compress()
        c.ok("NOOP")
        # The compressed stream ends (BFINAL) and more bytes follow.
        d = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
        c.sock.sendall(d.compress(b"e NOOP\r\n") + d.flush(zlib.Z_FINISH) + b"trailing garbage")
        c.sock.sendall(b"\x00" * 100)
    finally:
        c.close()
    c = f.conn(user)
    c.ok("NOOP")
    c.logout()


run()
