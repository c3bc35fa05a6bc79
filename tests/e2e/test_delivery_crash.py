"""Crash test of outbound delivery: SIGKILL the sending Tern while it
delivers a few hundred messages to Postfix's smtp-sink, restart it, let it
finish.  No message may be lost; none that the sender had recorded as
delivered (its log line "status=sent", written after the record) may
arrive twice.  Messages in flight at the kill may arrive twice: they are
counted and reported, and bounded by the number of connections."""

import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Suite  # noqa: E402
from mailcheck import wait_log  # noqa: E402
from test_delivery import Fixture, queue_list, submission, wait  # noqa: E402

suite = Suite()
MESSAGES = 200
DOMAINS = 10
CONNECTIONS = 4


def zone():
    z = {"mx.sink.example": {"A": ["127.0.0.5"]}}
    for i in range(DOMAINS):
        z["d%d.example" % i] = {"MX": [[10, "mx.sink.example"]]}
    return z


def submit_many(a, n):
    s = submission(a, "alice@example.test")
    ids = []
    try:
        for i in range(n):
            mid = "crash-%d-%s@example.test" % (i, os.urandom(4).hex())
            msg = ("From: <alice@example.test>\r\nTo: <u%d@d%d.example>\r\nSubject: crash %d\r\n"
                   "Message-ID: <%s>\r\n\r\nbody %d\r\n" % (i, i % DOMAINS, i, mid, i)).encode()
            s.sendmail("alice@example.test", ["u%d@d%d.example" % (i, i % DOMAINS)], msg)
            ids.append(mid)
    finally:
        s.quit()
    return ids


def received(dump):
    """Message-ID -> how many times the sink stored it."""
    counts = {}
    for name in os.listdir(dump):
        try:
            with open(os.path.join(dump, name), "rb") as fh:
                data = fh.read()
        except OSError:
            continue
        for m in re.findall(rb"Message-ID: <([^>]+)>", data):
            counts[m.decode()] = counts.get(m.decode(), 0) + 1
    return counts


def kill_while_delivering(f):
    f.dns.set(zone())
    a = f.sender("connections_per_domain = 2\nconnections_total = %d\n" % CONNECTIONS)
    ids = submit_many(a, MESSAGES)            # nothing listens yet: all deferred
    wait("all deferred", lambda: queue_list(a).count("attempts=1") == MESSAGES, timeout=120)
    dump = f.sink("127.0.0.5")
    off = os.path.getsize(a.log_path)
    a.cli("queue", "flush")
    wait_log(a, "status=sent", offset=off, count=MESSAGES // 4)
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait()
    a.proc = None
    a.log.close()
    with open(a.log_path, "rb") as fh:
        fh.seek(off)
        sent_before = set(re.findall(rb"queue (\S+) to=<[^>]+> relay=\S+ status=sent", fh.read()))
    a.start()
    a.cli("queue", "flush")
    wait("queue empty", lambda: "queue is empty" in queue_list(a), timeout=300)
    counts = wait("every message at the sink", lambda: (lambda c: len(c) >= MESSAGES and c)(received(dump)),
                  timeout=60)
    lost = [m for m in ids if m not in counts]
    assert not lost, "lost: %r" % lost[:5]
    dups = {m: n for m, n in counts.items() if n > 1}
    print("# %d messages, %d sent before the kill, %d duplicates (at most %d connections in flight)"
          % (MESSAGES, len(sent_before), len(dups), CONNECTIONS))
    assert len(dups) <= CONNECTIONS, dups
    # a duplicate whose queue id (in the sender's Received header) the
    # sender had logged as sent before the kill was delivered twice
    recorded_twice = []
    for name in os.listdir(dump):
        data = open(os.path.join(dump, name), "rb").read()
        m = re.search(rb"Message-ID: <([^>]+)>", data)
        q = re.search(rb"with ESMTPSA? id (\S+)", data)
        if m and q and counts.get(m.group(1).decode(), 0) > 1 and q.group(1) in sent_before:
            recorded_twice.append(m.group(1).decode())
    assert not recorded_twice, "delivered again after being recorded as sent: %r" % recorded_twice


suite.case(kill_while_delivering)


if __name__ == "__main__":
    def setup():
        return Fixture()

    def teardown_fixture(f):
        f.close()
    suite.run(setup, teardown_fixture)
