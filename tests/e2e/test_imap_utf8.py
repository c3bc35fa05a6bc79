"""UTF8=ACCEPT (RFC 6855), expected answers from the RFC: ENABLE
UTF8=ACCEPT turns mailbox names into UTF-8 on the wire (no modified
UTF-7), APPEND takes "UTF8 (literal8)" message data then and only then,
and SEARCH with a CHARSET is BAD once it is enabled (section 3 and
erratum 4029)."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Suite  # noqa: E402
from imapcheck import Lit, fetches, list_entries, search_numbers, shared_suite  # noqa: E402

suite = Suite()
t, run = shared_suite(suite)
NAME = "Entw\u00fcrfe"
MSG = ("From: J\u00f6rg <j\u00f6rg@example.test>\r\nTo: <a@example.test>\r\n"
       "Subject: Gr\u00fc\u00dfe aus K\u00f6ln\r\nMIME-Version: 1.0\r\n"
       "Content-Type: text/plain; charset=utf-8\r\n\r\nHall\u00f6chen\r\n").encode()


@t
def utf8_accept(f):
    user = f.user()
    c = f.conn(user)
    try:
        assert "UTF8=ACCEPT" in c.ok("CAPABILITY")[0].decode().split()
        # before ENABLE: names are modified UTF-7, UTF8 data is refused
        c.ok(b'CREATE "' + NAME.encode() + b'"')
        names = sorted(list_entries(c.ok('LIST "" "Entw*"')))
        assert names == ["Entw&APw-rfe"], names
        untagged, tagged, sent = c.cmd_literals(["APPEND INBOX UTF8 (", Lit(MSG, literal8=True), ")"])
        assert re.match(r"t\d+ BAD", tagged), tagged
        assert c.ok("ENABLE UTF8=ACCEPT") == [b"* ENABLED UTF8=ACCEPT"]
        names = sorted(list_entries(c.ok('LIST "" "Entw*"')))
        assert names == [NAME], names
        untagged, tagged, sent = c.cmd_literals(['APPEND "%s" (\\Seen) UTF8 (' % NAME, Lit(MSG, literal8=True), ")"])
        assert re.match(r"t\d+ OK \[APPENDUID \d+ 1\]", tagged), tagged
        c.ok(b'SELECT "' + NAME.encode() + b'"')
        fs = fetches(c.ok("FETCH 1 (FLAGS BODY.PEEK[])"))
        assert fs[1]["BODY[]"] == MSG and "\\Seen" in fs[1]["FLAGS"], fs
        assert search_numbers(c.ok(b'SEARCH SUBJECT "K\xc3\xb6ln"')) == [1]
        untagged, tagged = c.cmd('SEARCH CHARSET UTF-8 SUBJECT "x"')
        assert re.match(r"t\d+ BAD", tagged), tagged
        untagged, tagged = c.cmd('SEARCH RETURN (COUNT) CHARSET UTF-8 ALL')
        assert re.match(r"t\d+ BAD", tagged), tagged
        # MULTIAPPEND with UTF8 data between two plain messages
        untagged, tagged, sent = c.cmd_literals(["APPEND INBOX ", Lit(b"Subject: a\r\n\r\na\r\n"),
                                                 " UTF8 (", Lit(MSG, literal8=True), ") ",
                                                 Lit(b"Subject: c\r\n\r\nc\r\n")])
        assert re.match(r"t\d+ OK \[APPENDUID \d+ 1:3\]", tagged), tagged
    finally:
        c.logout()


run()
