#!/usr/bin/env python3
"""Hostile probe, all phases against one server: IMAP users log in and
SELECT all along while, in turn,

  1. slow-reader FETCH: FETCHERS sessions each send FETCH 1 BODY.PEEK[] on a
     SIZE MiB message and read it at RATE KiB/s with a small receive buffer;
  2. slow senders: DRIBBLERS port-25 sessions inside DATA send one byte
     every DRIBBLE_EVERY s;
  3. a connection flood: FLOOD port-25 connections, PER_ADDR per loopback
     address, opened as fast as possible and held silent.

For each phase it prints the server's anonymous memory (RssAnon of
/proc/PID/status: before, peak during the phase) and the IMAP LOGIN +
SELECT latency (p50, p95, max) and refusals seen meanwhile.  A probe: it
prints and asserts nothing (bench/README.md).  The phases reuse the pieces
of bench/hostile/smtp_dribble.py and fetch_slow_reader.py.

Environment: FETCHERS (200), SIZE (20 MiB), RATE (64 KiB/s), SECONDS per
phase (20), DRIBBLERS (200), FLOOD (MAXCONN), MAXCONN (2000), PER_ADDR (50),
DEADLINE ([limits] data_deadline, 10 here), TERN_BIN (build/tern).

    sudo python3 bench/hostile/run.py
    FETCHERS=1000 SIZE=50 python3 bench/hostile/run.py
"""

import os
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
os.environ.setdefault("DEADLINE", "10")

import smtp_dribble as D  # noqa: E402
from fetch_slow_reader import recv_until  # noqa: E402

FETCHERS = int(os.environ.get("FETCHERS", "200"))
SIZE = int(os.environ.get("SIZE", "20"))
RATE = int(os.environ.get("RATE", "64"))
SECONDS = float(os.environ.get("SECONDS", "20"))
MIB = 1024 * 1024
READER = "slow@" + D.benchlib.DOMAIN


def rss_anon(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    return 0


class Sampler:
    """RssAnon of pid every 0.2 s; peak() since the last reset()."""

    def __init__(self, pid):
        self.pid, self.top, self.stop = pid, 0, False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            try:
                self.top = max(self.top, rss_anon(self.pid))
            except OSError:
                return
            time.sleep(0.2)

    def reset(self):
        now = rss_anon(self.pid)
        self.top = now
        return now

    def peak(self):
        return self.top


def open_reader(port, i):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.settimeout(120)
    s.bind((D.addr(60, i // 10), 0))
    s.connect(("127.0.0.1", port))
    recv_until(s, b"\r\n")
    s.sendall(b'l LOGIN "%s" "%s"\r\ns SELECT INBOX\r\n' % (READER.encode(), D.PASSWORD.encode()))
    recv_until(s, b"s OK")
    return s


def slow_readers(port, stop, stats):
    socks = [open_reader(port, i) for i in range(FETCHERS)]
    stats["sessions"] = len(socks)
    stats["logged_in"].set()
    stats["go"].wait()
    for s in socks:
        s.sendall(b"f FETCH 1 BODY.PEEK[]\r\n")
        s.setblocking(False)
    stats["ready"].set()
    per_tick = max(1, RATE * 1024 // 10)
    got = 0
    while not stop.is_set():
        t = time.time()
        for s in socks:
            want = per_tick
            try:
                while want > 0:
                    d = s.recv(min(want, 65536))
                    if not d:
                        break
                    got += len(d)
                    want -= len(d)
            except (BlockingIOError, OSError):
                pass
        time.sleep(max(0, 0.1 - (time.time() - t)))
    stats["read"] = got
    for s in socks:
        s.close()


def phase(name, srv, sampler, start_attack, stop_attack, rows, prepare=None):
    """The attack alone for 3 s (its own memory), then with IMAP logins
    (whose password hashing takes memory of its own: yescrypt).  prepare
    runs before the first reading (the slow readers' own logins)."""
    if prepare is not None:
        prepare()
        time.sleep(1.0)
    before = sampler.reset()
    start_attack()
    time.sleep(3.0)
    alone = sampler.peak()
    times, refusals = D.login_series(srv.ports["imap"], until=time.time() + SECONDS)
    peak = sampler.peak()
    stop_attack()
    rows.append((name, before, alone, peak, times, refusals))


def main():
    D.raise_nofile(at_least=2 * (D.MAXCONN + D.DRIBBLERS + D.FLOOD + FETCHERS) + 1000)
    if not os.path.exists(D.TERN):
        import subprocess
        subprocess.run(["make", "-s", "-C", D.benchlib.ROOT, "build/tern"], check=True)
    work = D.Workdir("hostile")
    srv = D.Server(work)
    srv.cli("user", "add", READER, "--password-stdin", input=D.PASSWORD + "\n")
    with open(srv.conf, "a") as f:
        f.write("max_message_size = %dM\n" % (SIZE + 10))
    srv.start()
    sampler = Sampler(srv.proc.pid)
    rows = []
    try:
        print("hostile: binary %s" % D.TERN)
        print("  %s" % D.benchlib.machine_line())
        append_reader_message(srv)
        before = sampler.reset()
        times, refusals = D.login_series(srv.ports["imap"], rounds=D.LOGIN_ROUNDS)
        rows.append(("baseline (logins only)", before, before, sampler.peak(), times, refusals))

        stop = threading.Event()
        stats = {"ready": threading.Event(), "logged_in": threading.Event(), "go": threading.Event()}
        readers = threading.Thread(target=slow_readers, args=(srv.ports["imap"], stop, stats), daemon=True)

        def login_readers():
            readers.start()
            stats["logged_in"].wait(600)

        def start_readers():
            stats["go"].set()
            stats["ready"].wait(600)

        def stop_readers():
            stop.set()
            readers.join(60)
        phase("slow-reader FETCH: %d × %d MiB at %d KiB/s" % (FETCHERS, SIZE, RATE), srv, sampler,
              start_readers, stop_readers, rows, prepare=login_readers)
        time.sleep(2)

        d = D.Dribblers(srv.ports["smtp"])
        dt = threading.Thread(target=d.run, daemon=True)

        def start_dribble():
            d.open_all()
            dt.start()

        def stop_dribble():
            d.stop = True
            dt.join(10)
            for s in list(d.socks):
                s.close()
        phase("slow DATA: %d dribblers, 1 byte / %.1f s" % (D.DRIBBLERS, D.DRIBBLE_EVERY), srv, sampler,
              start_dribble, stop_dribble, rows)
        time.sleep(2)

        held, counts, fstop = [], {}, threading.Event()
        ft = threading.Thread(target=D.flood, args=(srv.ports["smtp"], held, counts, fstop), daemon=True)

        def stop_flood():
            fstop.set()
            ft.join(30)
            for s in held:
                s.close()
        phase("port-25 flood: %d connections" % D.FLOOD, srv, sampler, ft.start, stop_flood, rows)

        print("results (server RssAnon MiB: before the phase, peak with the attack alone, peak with logins;")
        print("         IMAP LOGIN + SELECT meanwhile):")
        for name, before, alone, peak, times, refusals in rows:
            tries = len(times) + sum(refusals.values())
            print("  %-44s %6.1f  %6.1f (+%.1f)  %6.1f  logins %d/%d  ms p50 %.1f p95 %.1f max %.1f" % (
                name, before / MIB, alone / MIB, (alone - before) / MIB, peak / MIB, len(times), tries,
                D.pct(times, 50) * 1000, D.pct(times, 95) * 1000, (max(times) if times else float("nan")) * 1000))
            for why, n in sorted(refusals.items(), key=lambda kv: -kv[1]):
                print("        refused/failed %d×: %s" % (n, why))
        print("  slow readers read %.1f MiB in all; dribblers cut off %d of %d; flood: %s" % (
            stats.get("read", 0) / MIB, len(d.ended), D.DRIBBLERS - d.setup_failed,
            ", ".join("%s %d" % kv for kv in sorted(counts.items(), key=lambda kv: -kv[1]))))
    finally:
        sampler.stop = True
        srv.stop()
        work.cleanup()


def append_reader_message(srv):
    """The message the slow readers fetch, in the reader's INBOX."""
    import fetch_slow_reader as F
    F.USER, F.PASSWORD = READER, D.PASSWORD
    return F.append_big(srv.ports["imap"], SIZE * MIB)


if __name__ == "__main__":
    main()
