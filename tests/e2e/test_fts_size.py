"""The full-text index stores no second copy of the text (issue 8, defect
4), and IMAP SEARCH BODY/TEXT/SUBJECT answers are what they were: short
needles (1 and 2 characters), non-ASCII, after EXPUNGE, COPY and MOVE.

Size: 400 realistic text messages (tests/e2e/corpus.py) are delivered over
SMTP and indexed; after a clean stop, index.db must be less than 0.65
times the octets of the message files, and its full-text tables less than
0.5 times (with the text stored twice, index.db was 1.68 times msg/ for these
messages: the plain text, the HTML twin's text and the index)."""

import imaplib
import os
import smtplib
import sqlite3
import time

from corpus import messages
from harness import PASSWORD, Server, Suite, stop_and_check, standard_server

suite = Suite()
USER = "alice@example.test"
N = 400


def user_dir(srv, user=USER):
    local, domain = user.split("@")
    return os.path.join(srv.data, "mail", domain, local)


def deliver_all(srv, msgs, user=USER):
    s = smtplib.SMTP("127.0.0.1", srv.port("smtp"), timeout=60)
    for m in msgs:
        s.sendmail("sender@example.net", [user], m)
    s.quit()


def imap(srv, user=USER):
    m = imaplib.IMAP4("127.0.0.1", srv.port("imap"), timeout=120)
    m.login(user, PASSWORD)
    return m


def search(m, *criteria):
    """UID SEARCH; a bytes needle (UTF-8) goes last, as a literal."""
    if criteria and isinstance(criteria[-1], bytes):
        m.literal = criteria[-1]
        criteria = criteria[:-1]
    typ, data = m.uid("SEARCH", "CHARSET", "UTF-8", *criteria)
    assert typ == "OK", (typ, data)
    return [int(x) for x in data[0].split()]


def wait_for_upkeep(srv, user=USER, limit=120):
    """Waits (up to limit seconds) until the indexer thread has indexed
    every message and merged the index (store_fts_maintain).  A wait for a
    state, not a timing."""
    db = sqlite3.connect(os.path.join(user_dir(srv, user), "index.db"), timeout=30)
    try:
        deadline = time.time() + limit
        while time.time() < deadline:
            unmerged = db.execute("SELECT value FROM meta WHERE key = 'fts_unmerged'").fetchone()[0]
            missing = db.execute("SELECT (SELECT count(*) FROM messages) - (SELECT count(*) FROM fts_map)").fetchone()[0]
            docs = db.execute("SELECT value FROM meta WHERE key = 'fts_docs'").fetchone()[0]
            # store_fts.c: a merge is due at 64 new documents and an eighth
            if missing == 0 and not (unmerged >= 64 and unmerged * 8 >= docs):
                return
            time.sleep(0.2)
        raise AssertionError("the index upkeep did not finish: unmerged=%s missing=%s" % (unmerged, missing))
    finally:
        db.close()


def special(uids):
    """The answers among the hand-made messages (UIDs 1 to 3): the filler
    messages' prose is whatever the system's documentation holds."""
    return [u for u in uids if u <= 3]


def du(path):
    return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))


@suite.case
def index_is_a_fraction_of_the_message_bytes(srv):
    deliver_all(srv, messages(N, seed=7))
    m = imap(srv)
    m.select("INBOX")
    # A search indexes whatever the indexer thread has not reached yet.
    assert len(search(m, "BODY", "the")) > N // 2
    m.logout()
    wait_for_upkeep(srv)
    assert srv.stop() == 0
    d = user_dir(srv)
    msg_bytes = du(os.path.join(d, "msg"))
    index_bytes = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d) if f.startswith("index.db"))
    db = sqlite3.connect(os.path.join(d, "index.db"))
    fts_bytes = db.execute("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'fts%'").fetchone()[0]
    db.close()
    srv.start()
    print("# %d messages: msg/ %d bytes; index.db %d bytes (%.3f of the message bytes), of which"
          " full-text tables %d bytes (%.3f)" % (N, msg_bytes, index_bytes, index_bytes / msg_bytes, fts_bytes,
                                                  fts_bytes / msg_bytes))
    # With the text stored twice: index.db 1.68 times msg/ for these messages.
    # Measured 0.55 and 0.41 (the segments depend a little on how the
    # indexer's batches fall).
    assert index_bytes < 0.65 * msg_bytes
    assert fts_bytes < 0.5 * msg_bytes


PLAIN = ("From: Ana <ana@example.net>\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= aus M\xfcnchen\r\n"
         "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
         "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
         "Die Stra=DFe ist na=DF, sagte sie. xq\r\n")
GREEK = ("From: Bo <bo@example.net>\r\nSubject: greek\r\nMIME-Version: 1.0\r\n"
         "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
         "\u0396\u03b5\u03cd\u03c2 and \u03a9mega, jj\r\n")
HTML = ("From: Cy <cy@example.net>\r\nSubject: html\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/html; charset=utf-8\r\n\r\n<p>Hello <b>wor</b>ld &amp; friends</p>\r\n")


@suite.case
def search_answers_short_needles_non_ascii_and_after_changes(srv):
    deliver_all(srv, [PLAIN.encode("latin-1"), GREEK.encode("utf-8"), HTML.encode("utf-8")]
                + messages(40, seed=3))
    m = imap(srv)
    m.select("INBOX")
    assert special(search(m, "BODY", "xq")) == [1]
    assert search(m, "BODY", "x") != []
    assert special(search(m, "BODY", "\u00df".encode())) == [1]                    # ß
    assert special(search(m, "BODY", "STRASSE")) == []                             # no full case folding
    assert special(search(m, "BODY", "stra\u00dfe".encode())) == [1]
    assert special(search(m, "TEXT", "gr\u00fc\u00df".encode())) == [1]            # the subject, RFC 2047
    assert special(search(m, "BODY", "gr\u00fc\u00df".encode())) == []
    assert 1 in search(m, "SUBJECT", "AUS")                               # SUBJECT reads the header
    assert special(search(m, "SUBJECT", "greek")) == [2]
    assert special(search(m, "BODY", "\u03b6\u03b5".encode())) == [2]              # ζε finds Ζε
    assert special(search(m, "BODY", "\u03c9".encode())) == [2]                    # ω finds Ω
    assert special(search(m, "BODY", "jj")) == [2]
    assert special(search(m, "BODY", b"world & friends")) == [3]
    assert special(search(m, "BODY", "<b>")) == []
    assert 3 in search(m, "TEXT", "html")
    assert special(search(m, "SUBJECT", "html")) == [3]
    everything = search(m, "ALL")
    assert search(m, "TEXT", "e") == everything
    # COPY: the copy is found in its mailbox, the original stays.
    assert m.uid("COPY", "1", "Archive")[0] == "OK"
    # MOVE: gone here, found there.
    assert m.uid("MOVE", "2", "Archive")[0] == "OK"
    assert special(search(m, "BODY", "\u03c9".encode())) == []
    assert special(search(m, "BODY", "xq")) == [1]
    # EXPUNGE: gone.
    assert m.uid("STORE", "3", "+FLAGS", "(\\Deleted)")[0] == "OK"
    assert m.expunge()[0] == "OK"
    assert special(search(m, "BODY", "friends")) == []
    assert search(m, "BODY", "fr") == search(m, "BODY", "fr")  # stable
    assert 3 not in search(m, "TEXT", "e")
    m.select("Archive")
    assert special(search(m, "BODY", "xq")) == [1]
    assert special(search(m, "BODY", "\u03c9".encode())) == [2]
    assert special(search(m, "BODY", "jj")) == [2]
    assert special(search(m, "TEXT", "q")) == [1]
    assert special(search(m, "BODY", "friends")) == []
    m.logout()


def setup():
    return standard_server()


suite.run(setup, stop_and_check)
