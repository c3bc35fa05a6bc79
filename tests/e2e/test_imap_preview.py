"""FETCH PREVIEW (RFC 8970), with expected previews written from the RFC's
rules: the text a reader sees first (the plain version of an
alternative, HTML reduced to its text, attachments skipped), at most 256
characters, decoded to UTF-8; PREVIEW (LAZY) is accepted; a message with
no text has the empty preview."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Suite  # noqa: E402
from imapcheck import Lit, fetches, select, shared_suite  # noqa: E402

suite = Suite()
t, run = shared_suite(suite)


def append(c, msg):
    untagged, tagged, sent = c.cmd_literals(["APPEND INBOX ", Lit(msg)])
    assert sent and " OK " in tagged, tagged


@t
def preview_of_plain_html_and_attachments(f):
    user = f.user()
    c = f.conn(user)
    try:
        assert "PREVIEW" in c.ok("CAPABILITY")[0].decode()
        append(c, b"Subject: one\r\n\r\n  Hi Bob,\r\n\r\n\tsee   you\r\nat noon.\r\n")
        append(c, b"Subject: two\r\nMIME-Version: 1.0\r\n"
                  b"Content-Type: multipart/alternative; boundary=b\r\n\r\n"
                  b"--b\r\nContent-Type: text/html\r\n\r\n<p>Rich <b>text</b></p>\r\n"
                  b"--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
                  b"Content-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9 ouvert\r\n--b--\r\n")
        append(c, b"Subject: three\r\nMIME-Version: 1.0\r\n"
                  b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
                  b"--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\n"
                  b"attached, not shown\r\n"
                  b"--b\r\nContent-Type: text/html\r\n\r\n<html><body><p>Hello <i>there</i>&amp; bye</p></body></html>\r\n"
                  b"--b--\r\n")
        append(c, b"Subject: four\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                  b"iVBORw0KGgo=\r\n")
        append(c, b"Subject: five\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + "\u00e9".encode() * 300)
        select(c)
        fs = fetches(c.ok("FETCH 1:5 (PREVIEW)"))
        assert fs[1]["PREVIEW"] == b"Hi Bob, see you at noon.", fs[1]
        assert fs[2]["PREVIEW"] == "Caf\u00e9 ouvert".encode(), fs[2]
        assert fs[3]["PREVIEW"] == b"Hello there& bye", fs[3]
        assert fs[4]["PREVIEW"] == b"", fs[4]
        # 256 characters, not octets (RFC 8970 3.1)
        assert fs[5]["PREVIEW"].decode("utf-8") == "\u00e9" * 256, len(fs[5]["PREVIEW"])
        # PREVIEW (LAZY), alone and in a list; it does not set \Seen
        fs = fetches(c.ok("FETCH 1 PREVIEW (LAZY)"))
        assert fs[1]["PREVIEW"] == b"Hi Bob, see you at noon.", fs
        fs = fetches(c.ok("UID FETCH 1:2 (FLAGS PREVIEW (LAZY))"))
        assert fs[2]["PREVIEW"] == "Caf\u00e9 ouvert".encode() and "\\Seen" not in fs[2]["FLAGS"], fs
        # a modifier other than LAZY is not PREVIEW's
        untagged, tagged = c.cmd("FETCH 1 PREVIEW (FAST)")
        assert re.match(r"t\d+ BAD", tagged), tagged
    finally:
        c.logout()


run()
