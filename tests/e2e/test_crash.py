"""Crash test for promise 1, "nothing acknowledged is lost": client threads
deliver over SMTP in a loop while the server is killed with SIGKILL at
random moments and restarted.  Afterwards every message that got a 250 must
be in its mailbox exactly once, intact; a message that did not get its 250
may be there or not, but at most once and never torn.  And what the kills
left behind (message files without rows, spool files) is gone once the
server has started again (issue 8)."""

import os
import poplib
import random
import re
import smtplib
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Suite  # noqa: E402
from mailcheck import (  # noqa: E402
    HOST, case, index_files, log_offset, message, msg_files, pop3, retr, setup, split_trace, teardown_all, user_dir,
    wait_log)

suite = Suite()
t = case(suite)

USERS = ["alice@example.test", "bob@example.test", "carol@example.org", "dave@example.test"]
CLIENTS = 4
SEED = int(os.environ.get("TERN_CRASH_SEED", str(int(time.time()))))


class Deliverer(threading.Thread):
    """Sends messages, a few per connection, until told to stop; records
    which Message-Ids got a 250 and which were attempted."""

    def __init__(self, srv, n, rng, stop):
        super().__init__(daemon=True)
        self.srv, self.n, self.rng, self.stop = srv, n, rng, stop
        self.acked = {}      # message-id -> (user, bytes)
        self.attempted = {}  # message-id -> (user, bytes), acked or not
        self.errors = 0

    def one_message(self):
        mid = "<%s.%d@crash.example.org>" % (uuid.uuid4().hex, self.n)
        user = self.rng.choice(USERS)
        size = self.rng.choice([200, 200, 200, 2000, 2000, 20000, 200000])
        line = ("%s " % mid) * 2 + "\r\n"
        body = line * max(1, size // len(line)) + "end of %s\r\n" % mid
        return mid, user, message(subject="crash " + mid, to=user, msgid=mid, body=body)

    def run(self):
        while not self.stop.is_set():
            try:
                s = smtplib.SMTP(HOST, self.srv.port("smtp"), local_hostname="crash.example.org", timeout=10)
            except OSError:
                time.sleep(0.02)
                continue
            try:
                s.ehlo()
                for _ in range(self.rng.randint(1, 3)):
                    if self.stop.is_set():
                        break
                    mid, user, msg = self.one_message()
                    self.attempted[mid] = (user, msg)
                    code, _ = s.mail("crash@example.org")
                    if code != 250:
                        break
                    code, _ = s.rcpt(user)
                    if code != 250:
                        break
                    code, _ = s.data(msg)
                    if code == 250:
                        self.acked[mid] = (user, msg)
                    time.sleep(self.rng.uniform(0, 0.03))
                s.quit()
            except (smtplib.SMTPException, OSError, EOFError):
                self.errors += 1
            finally:
                try:
                    s.close()
                except OSError:
                    pass


class Reader(threading.Thread):
    """Reads mailboxes over POP3 (STAT, LIST, UIDL, RETR; never DELE) all
    along, so that some sessions hold a mailbox lock when the server dies."""

    def __init__(self, srv, rng, stop):
        super().__init__(daemon=True)
        self.srv, self.rng, self.stop = srv, rng, stop
        self.sessions = 0

    def run(self):
        while not self.stop.is_set():
            try:
                p = pop3(self.srv, self.rng.choice(USERS), timeout=10)
            except (poplib.error_proto, OSError):
                time.sleep(0.05)
                continue
            try:
                count, _ = p.stat()
                p.uidl()
                for i in range(1, min(count, 5) + 1):
                    p.retr(self.rng.randint(1, count))
                time.sleep(self.rng.uniform(0, 0.3))
                p.quit()
                self.sessions += 1
            except (poplib.error_proto, OSError, EOFError):
                pass
            finally:
                p.close()


def fetch_mailbox(srv, user, deadline):
    """All messages of user over POP3, retrying while the server settles
    (a lock left by a killed session must not outlive the process)."""
    last = None
    while time.time() < deadline:
        try:
            p = pop3(srv, user, timeout=30)
            try:
                count, _ = p.stat()
                return [retr(p, i) for i in range(1, count + 1)]
            finally:
                p.quit()
        except (poplib.error_proto, OSError) as e:
            last = e
            time.sleep(0.2)
    raise AssertionError("cannot read %s's mailbox: %r" % (user, last))


def message_id(msg):
    for line in msg.split(b"\r\n"):
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode()
        if line == b"":
            break
    return None


@t
def kill9_loses_nothing_acknowledged(f):
    rng = random.Random(SEED)
    print("# seed", SEED, flush=True)
    srv = f.std(users=USERS)
    stop = threading.Event()
    clients = [Deliverer(srv, n, random.Random(SEED + n + 1), stop) for n in range(CLIENTS)]
    readers = [Reader(srv, random.Random(SEED - n - 1), stop) for n in range(2)]
    for c in clients + readers:
        c.start()
    t0 = time.time()
    kills = rng.randint(5, 8)
    for k in range(kills):
        time.sleep(rng.uniform(0.3, 1.5))
        srv.kill()
        time.sleep(rng.uniform(0.0, 0.2))
        srv.start()
    time.sleep(0.5)
    stop.set()
    for c in clients + readers:
        c.join(30)
        assert not c.is_alive(), "client thread stuck"
    acked, attempted = {}, {}
    for c in clients:
        acked.update(c.acked)
        attempted.update(c.attempted)
    print("# %d kills in %.1fs; %d messages acknowledged, %d attempted; %d POP3 sessions" %
          (kills, time.time() - t0, len(acked), len(attempted), sum(r.sessions for r in readers)), flush=True)
    assert len(acked) >= kills, "too few deliveries to mean anything: %d" % len(acked)
    problems = []
    # A clean stop and start after all this must work too.
    status = srv.stop()
    if status != 0:
        problems.append("SIGTERM after the crashes: exit status %s (log above)" % status)
    # What the kills left (links without rows, spool files) before the start.
    leftovers = sum(len(msg_files(srv, u) - index_files(srv, u)) for u in USERS if os.path.isdir(user_dir(srv, u)))
    spool = os.path.join(srv.data, "spool")
    leftovers += len(os.listdir(spool)) if os.path.isdir(spool) else 0
    off = log_offset(srv)
    srv.start()
    # The start-up pass removes every orphan the crashes left (issue 8).
    wait_log(srv, "store orphan scan pass=startup", off)
    for user in USERS:
        if not os.path.isdir(user_dir(srv, user)):
            continue
        extra = msg_files(srv, user) - index_files(srv, user)
        if extra:
            problems.append("%s: %d orphan files survived the restart: %s" % (user, len(extra), sorted(extra)[:3]))
    if os.path.isdir(spool) and os.listdir(spool):
        problems.append("spool leftovers survived the restart: %s" % os.listdir(spool)[:3])
    passes = wait_log(srv, "store orphan scan pass=startup", 0)
    removed = sum(int(re.search(r" removed=(\d+)", l).group(1)) for l in passes)
    nbytes = sum(int(re.search(r" bytes=(\d+)", l).group(1)) for l in passes)
    print("# start-up passes over %d starts removed %d orphan files (%d bytes); %d leftovers before the last start"
          % (len(passes), removed, nbytes, leftovers), flush=True)
    deadline = time.time() + 60
    seen = {}
    for user in USERS:
        for stored in fetch_mailbox(srv, user, deadline):
            mid = message_id(stored)
            if mid is None or mid not in attempted:
                problems.append("%s: a message nobody sent: %r" % (user, stored[:200]))
                continue
            seen[mid] = seen.get(mid, 0) + 1
            want_user, original = attempted[mid]
            if want_user != user:
                problems.append("%s in the wrong mailbox %s" % (mid, user))
            trace, rest = split_trace(stored)
            if rest != original:
                problems.append("%s stored torn or altered (%d bytes, sent %d)" % (mid, len(rest), len(original)))
    for mid, n in seen.items():
        if n > 1:
            problems.append("%s stored %d times%s" % (mid, n, " (acknowledged)" if mid in acked else ""))
    lost = [mid for mid in acked if mid not in seen]
    for mid in lost:
        problems.append("%s acknowledged with 250 but lost (to %s)" % (mid, acked[mid][0]))
    unacked_present = sum(1 for mid in seen if mid not in acked)
    print("# %d unacknowledged messages present (allowed)" % unacked_present, flush=True)
    assert not problems, "\n".join(problems[:30]) + ("\n... %d problems in all" % len(problems) if len(problems) > 30 else "")


@t
def kill9_keeps_uidls_and_deletions(f):
    from mailcheck import deliver, uidls
    srv = f.std(users=USERS)
    for i in range(4):
        assert deliver(srv, USERS[0], message(subject="keep %d" % i, to=USERS[0])) == {}
    before = uidls(srv, USERS[0])
    srv.kill()
    srv.start()
    assert uidls(srv, USERS[0]) == before, "UIDLs changed across kill -9"
    # QUIT's +OK in the UPDATE state acknowledges the deletions (RFC 1939 6):
    # a kill right after it must not bring them back.
    p = pop3(srv, USERS[0])
    p.dele(1)
    p.dele(3)
    resp = p.quit()
    assert resp.startswith(b"+OK"), resp
    srv.kill()
    srv.start()
    after = uidls(srv, USERS[0])
    assert [u for _, u in after] == [before[1][1], before[3][1]], (before, after)


suite.run(setup, teardown_all)
