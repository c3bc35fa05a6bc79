"""End-to-end tests of the orphan scan (issue 8, defect 5; store_maint.h,
src/server/maint.c): message files no index row names, spool files and
queue leftovers that a crash leaves are removed at the next start and by
the periodic pass, and a file of a message is never removed, not even one
being delivered or copied while the scan runs."""

import imaplib
import os
import re
import smtplib
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import PASSWORD, Suite  # noqa: E402
from mailcheck import (  # noqa: E402
    HOST, assert_delivered_exact, case, deliver, fetch_all, index_files, log_offset, message, msg_files, setup,
    teardown_all, user_dir, wait_log)

suite = Suite()
t = case(suite)

ALICE = "alice@example.test"
BOB = "bob@example.test"
ORPHAN = "1700000000.00000000deadbeef"


def summary(line):
    """The key=value fields of a summary line."""
    return dict(re.findall(r"(\w+)=(\S+)", line.split("store orphan scan ", 1)[1]))


def imap(srv, user=ALICE):
    m = imaplib.IMAP4(HOST, srv.port("imap"))
    m.login(user, PASSWORD)
    return m


def place_orphan(srv, user, name=ORPHAN, data=b"Subject: orphan\r\n\r\nleft by a crash\r\n"):
    path = os.path.join(user_dir(srv, user), "msg", name)
    with open(path, "wb") as fh:
        fh.write(data)
    os.utime(path, (1700000000, 1700000000))   # mtime says old; ctime (what counts) is now
    return path


@t
def startup_pass_removes_crash_leftovers(f):
    srv = f.std(extra="[store]\norphan_scan_interval = 0\n")
    msgs = [message(subject="keep %d" % i, to=ALICE) for i in range(3)]
    for m in msgs:
        assert deliver(srv, ALICE, m) == {}
    assert deliver(srv, BOB, message(subject="bob's", to=BOB)) == {}
    # A COPY gives a message a second name (a hard link) with a row of its own.
    m = imap(srv)
    m.select("INBOX")
    assert m.copy("1:3", "Archive")[0] == "OK"
    m.logout()
    keep_alice = index_files(srv, ALICE)
    assert len(keep_alice) == 6 and msg_files(srv, ALICE) == keep_alice
    keep_bob = index_files(srv, BOB)
    assert srv.stop() == 0

    # What a crash leaves: a delivery's link without its row, a COPY's
    # link without its row (a second name of a kept message), a spool
    # file, an enqueue cut before its envelope, an envelope never renamed.
    msgdir = os.path.join(user_dir(srv, ALICE), "msg")
    place_orphan(srv, ALICE)
    os.link(os.path.join(msgdir, sorted(keep_alice)[0]), os.path.join(msgdir, "1700000001.00000000cafebabe"))
    os.makedirs(os.path.join(srv.data, "spool"), exist_ok=True)
    with open(os.path.join(srv.data, "spool", "1700000002.0000000000000001"), "wb") as fh:
        fh.write(b"half a message")
    queue = os.path.join(srv.data, "queue")
    os.makedirs(queue, exist_ok=True)
    # (the complete entry is held, so that the delivery agent leaves it be)
    for name, data in (("000001700000.000000001.0000abcd.eml", b"no envelope"),
                       ("000001700000.000000002.0000abce.env.tmp", b"from <>\n"),
                       ("000001700000.000000004.0000abd0.hold", b""),
                       ("000001700000.000000003.0000abcf.eml", b"a complete entry"),
                       ("000001700000.000000003.0000abcf.hold", b""),
                       ("000001700000.000000003.0000abcf.env",
                        b"from <a@example.org>\nrcpt <x@example.net>\nqueued 1700000000\nsize 16\n")):
        with open(os.path.join(queue, name), "wb") as fh:
            fh.write(data)
    # A folder without an index is nobody's: left alone, not made a user.
    ghost = os.path.join(srv.data, "mail", "example.test", "ghost", "msg")
    os.makedirs(ghost)
    with open(os.path.join(ghost, ORPHAN), "wb") as fh:
        fh.write(b"x")

    off = log_offset(srv)
    srv.start()
    (line,) = wait_log(srv, "store orphan scan pass=startup", off)
    s = summary(line)
    assert s["removed"] == "2" and s["queue_removed"] == "3" and s["errors"] == "0", line
    assert int(s["users"]) == 2, line           # alice and bob; not ghost
    per_user = wait_log(srv, "store orphans user=", off)
    assert len(per_user) == 1 and 'user="alice@example.test" removed=2 ' in per_user[0], per_user
    assert msg_files(srv, ALICE) == keep_alice, msg_files(srv, ALICE) ^ keep_alice
    assert msg_files(srv, BOB) == keep_bob
    assert os.listdir(os.path.join(srv.data, "spool")) == []
    assert sorted(os.listdir(queue)) == ["000001700000.000000003.0000abcf.eml",
                                         "000001700000.000000003.0000abcf.env",
                                         "000001700000.000000003.0000abcf.hold", "ctl"], os.listdir(queue)
    assert os.listdir(ghost) == [ORPHAN]
    assert not os.path.exists(os.path.join(user_dir(srv, "ghost@example.test"), "index.db"))
    got = fetch_all(srv, ALICE)
    assert len(got) == 3
    for stored, original in zip(got, msgs):
        assert_delivered_exact(stored, original)
    m = imap(srv)
    typ, data = m.select("Archive")
    assert typ == "OK" and data == [b"3"], data
    m.logout()


class Traffic(threading.Thread):
    """Deliveries over SMTP and COPYs over IMAP, back to back, so that the
    scan keeps meeting files linked and not yet committed."""

    def __init__(self, srv, stop):
        super().__init__(daemon=True)
        self.srv, self.stop = srv, stop
        self.acked = []
        self.copies = 0
        self.error = None

    def run(self):
        try:
            s = smtplib.SMTP(HOST, self.srv.port("smtp"), local_hostname="client.example.org", timeout=30)
            m = imap(self.srv)
            m.create("Copies")
            n = 0
            while not self.stop.is_set():
                n += 1
                msg = message(subject="traffic %d" % n, to=ALICE, body="body %d\r\n" % n * 20)
                s.sendmail("sender@example.org", [ALICE], msg)
                self.acked.append(msg)
                if n % 10 == 0:
                    typ, data = m.select("INBOX")
                    exists = int(data[0])
                    typ, data = m.copy("%d:*" % max(1, exists - 49), "Copies")
                    assert typ == "OK", (typ, data)
                    self.copies += 1
            s.quit()
            m.logout()
        except Exception as e:   # reported by the case
            self.error = e


@t
def periodic_pass_beside_deliveries_and_copies(f):
    srv = f.std(extra="[store]\norphan_scan_interval = 1\norphan_min_age = 0\n")
    assert deliver(srv, ALICE, message(subject="first", to=ALICE)) == {}
    stop = threading.Event()
    traffic = Traffic(srv, stop)
    traffic.start()
    try:
        off = log_offset(srv)
        path = place_orphan(srv, ALICE)
        (line,) = wait_log(srv, 'store orphans user="alice@example.test" removed=1 ', off)
        assert "pass=periodic" in line, line
        assert not os.path.exists(path)
        # A few more passes with the traffic running (and at least a few
        # COPYs of the whole INBOX: many links not yet committed).
        off = log_offset(srv)
        wait_log(srv, "store orphan scan pass=periodic", off, count=4)
        deadline = time.time() + 120
        while traffic.copies < 3 and traffic.is_alive() and time.time() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        traffic.join(60)
    assert traffic.error is None, traffic.error
    assert traffic.copies >= 3, traffic.copies
    # Nothing but the orphan was ever taken: every row has its file, and
    # every acknowledged message reads back whole.
    named = index_files(srv, ALICE)
    on_disk = msg_files(srv, ALICE)
    assert named <= on_disk, "rows without files: %r" % sorted(named - on_disk)[:5]
    got = fetch_all(srv, ALICE)
    assert len(got) == 1 + len(traffic.acked), (len(got), len(traffic.acked))
    for stored, original in zip(got[1:], traffic.acked):
        assert_delivered_exact(stored, original)
    m = imap(srv)
    typ, data = m.select("Copies")
    assert typ == "OK", data
    typ, data = m.fetch("1:*", "(BODY.PEEK[])")
    assert typ == "OK" and len([d for d in data if isinstance(d, tuple)]) == int(m.select("Copies")[1][0])
    m.logout()
    lines = wait_log(srv, "store orphan scan pass=periodic", 0)
    assert all(summary(l)["errors"] == "0" for l in lines), [l for l in lines if summary(l)["errors"] != "0"]
    assert sum(int(summary(l)["removed"]) for l in lines) == 1, lines


@t
def no_scan_when_switched_off_between_starts(f):
    """orphan_scan_interval = 0: the start-up pass only; an orphan made
    while running stays until the next start."""
    srv = f.std(extra="[store]\norphan_scan_interval = 0\norphan_min_age = 0\n")
    assert deliver(srv, ALICE, message(subject="one", to=ALICE)) == {}
    wait_log(srv, "store orphan scan pass=startup")
    path = place_orphan(srv, ALICE)
    # Another user's delivery and a full POP3 session later it is still there.
    assert deliver(srv, BOB, message(subject="two", to=BOB)) == {}
    assert len(fetch_all(srv, ALICE)) == 1
    assert os.path.exists(path)
    assert srv.stop() == 0
    off = log_offset(srv)
    srv.start()
    wait_log(srv, "store orphan scan pass=startup", off)
    assert not os.path.exists(path)
    assert len(fetch_all(srv, ALICE)) == 1


suite.run(setup, teardown_all)
