#!/usr/bin/env python3
"""Hostile probe: slow senders and a connection flood on port 25, and what
IMAP users see meanwhile.  Prints figures; asserts nothing (a probe, not a
test: bench/README.md).

It starts its own Tern (build/tern, or TERN_BIN) on free loopback ports with
[limits] max_connections = MAXCONN and the data deadline settings below,
then:

  1. baseline: IMAP LOGIN + SELECT INBOX, LOGIN_ROUNDS times, alone;
  2. attack: DRIBBLERS port-25 connections from 127.0.x.y addresses go
     EHLO, MAIL, RCPT, DATA and then send one byte every DRIBBLE_EVERY
     seconds; a flood opens FLOOD more port-25 connections (from other
     addresses, PER_ADDR per address) as fast as it can and holds them
     silent; meanwhile IMAP LOGIN + SELECT is timed again for SECONDS;
  3. it reports how many flood connections the server took and refused,
     how many dribblers were cut off (a 421 or a close) and after how long,
     and the IMAP latencies and refusals of both phases.

Environment: MAXCONN (2000), DRIBBLERS (200), FLOOD (MAXCONN), PER_ADDR
(50: [limits] max_connections_per_ip), DRIBBLE_EVERY (1.0 s), DEADLINE
([limits] data_deadline, 10 s here so that a run is short), MIN_RATE
([limits] min_data_rate, 500), SECONDS (20), LOGIN_ROUNDS (20), EXTRA
(more [limits] lines, e.g. "max_connections_smtp = 0\\n"), KEEP=1 keeps the
work directory.  Run the same command against another binary with
TERN_BIN=... to compare; a binary that does not know data_deadline,
min_data_rate or max_connections_smtp needs OLD=1 (those keys are then left
out of the configuration).

    python3 bench/hostile/smtp_dribble.py
    MAXCONN=4000 DRIBBLERS=500 SECONDS=30 python3 bench/hostile/smtp_dribble.py
"""

import os
import selectors
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

import benchlib  # noqa: E402
from benchlib import PASSWORD, ImapClient, Workdir, free_port, raise_nofile, say, user, wait_port  # noqa: E402

TERN = os.environ.get("TERN_BIN", os.path.join(benchlib.ROOT, "build", "tern"))
MAXCONN = int(os.environ.get("MAXCONN", "2000"))
DRIBBLERS = int(os.environ.get("DRIBBLERS", "200"))
FLOOD = int(os.environ.get("FLOOD", str(MAXCONN)))
PER_ADDR = int(os.environ.get("PER_ADDR", "50"))
DRIBBLE_EVERY = float(os.environ.get("DRIBBLE_EVERY", "1.0"))
DEADLINE = int(os.environ.get("DEADLINE", "10"))
MIN_RATE = int(os.environ.get("MIN_RATE", "500"))
SECONDS = float(os.environ.get("SECONDS", "20"))
LOGIN_ROUNDS = int(os.environ.get("LOGIN_ROUNDS", "20"))
EXTRA = os.environ.get("EXTRA", "").replace("\\n", "\n")
OLD = bool(os.environ.get("OLD"))


def addr(block, i):
    """A loopback source address: block picks 127.<block>.x.y."""
    return "127.%d.%d.%d" % (block, i // 250, i % 250 + 1)


class Server:
    def __init__(self, work):
        self.dir = work.sub("tern")
        self.conf = os.path.join(self.dir, "tern.conf")
        self.log_path = os.path.join(self.dir, "server.log")
        self.ports = {"smtp": free_port(), "imap": free_port()}
        lines = ["[server]", "hostname = mail.example.test", "data_dir = " + os.path.join(self.dir, "data"),
                 "log_level = warn", "[listen]"]
        lines += ["%s = 127.0.0.1:%d" % kv for kv in self.ports.items()]
        lines += ["[auth]", "allow_plaintext = loopback", "[limits]", "max_connections = %d" % MAXCONN,
                  "max_connections_per_ip = %d" % PER_ADDR]
        if not OLD:
            lines += ["data_deadline = %d" % DEADLINE, "min_data_rate = %d" % MIN_RATE]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n" + EXTRA)
        self.cli("domain", "add", benchlib.DOMAIN)
        self.cli("user", "add", user(1), "--password-stdin", input=PASSWORD + "\n")

    def cli(self, *args, input=None):
        r = subprocess.run([TERN, "--config", self.conf] + list(args), input=input, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("tern %s: %s" % (" ".join(args), r.stderr.strip()))
        return r.stdout

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([TERN, "serve", "--config", self.conf], stdout=self.log, stderr=self.log)
        for p in self.ports.values():
            wait_port(p, lambda: self.proc.poll() is None)
        time.sleep(0.5)   # let the probe connections of wait_port go

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(40)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def imap_login_select(port):
    """(seconds for connect + LOGIN + SELECT, None) or (None, why)."""
    t0 = time.perf_counter()
    try:
        c = ImapClient(port, timeout=30)
        if not c.greeting.startswith(b"* OK"):
            c.sock.close()
            return None, c.greeting.decode("utf-8", "replace").strip()[:60]
        c.login(user(1))
        c.ok("SELECT INBOX", keep=False)
        t1 = time.perf_counter()
        c.close()
        return t1 - t0, None
    except (OSError, RuntimeError) as e:
        return None, str(e)[:60]


def login_series(port, until=None, rounds=None):
    times, refusals = [], {}
    n = 0
    while (rounds is not None and n < rounds) or (until is not None and time.time() < until):
        secs, why = imap_login_select(port)
        n += 1
        if secs is None:
            refusals[why] = refusals.get(why, 0) + 1
            time.sleep(0.05)
        else:
            times.append(secs)
    return times, refusals


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def report_logins(name, times, refusals):
    tries = len(times) + sum(refusals.values())
    print("  %-9s logins ok %d/%d   login+SELECT ms: p50 %.1f  p95 %.1f  max %.1f" % (
        name, len(times), tries, pct(times, 50) * 1000, pct(times, 95) * 1000,
        (max(times) if times else float("nan")) * 1000))
    for why, n in sorted(refusals.items(), key=lambda kv: -kv[1]):
        print("            refused/failed %d×: %s" % (n, why))


class Dribblers:
    """DRIBBLERS port-25 sessions inside DATA, one byte every DRIBBLE_EVERY s."""

    def __init__(self, port):
        self.port = port
        self.socks = {}          # sock -> start of DATA
        self.ended = []          # seconds from DATA to 421/close
        self.words = {}
        self.setup_failed = 0
        self.stop = False

    def open_all(self):
        msg = ("EHLO dribble.example\r\nMAIL FROM:<d@example.org>\r\nRCPT TO:<%s>\r\nDATA\r\n" % user(1)).encode()
        for i in range(DRIBBLERS):
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=10,
                                             source_address=(addr(20, i // 10), 0))
                s.sendall(msg)
                buf = b""
                while b"\n354 " not in buf:
                    chunk = s.recv(4096)
                    if not chunk or b"421 " in buf:
                        raise OSError("no 354: %r" % buf[-80:])
                    buf += chunk
                s.sendall(b"Subject: slow\r\n\r\n")
                s.setblocking(False)
                self.socks[s] = time.time()
            except OSError:
                self.setup_failed += 1

    def run(self):
        sel = selectors.DefaultSelector()
        for s in self.socks:
            sel.register(s, selectors.EVENT_READ)
        while not self.stop and self.socks:
            t0 = time.time()
            for s in list(self.socks):
                try:
                    s.send(b"x")
                except OSError:
                    self.end(s, b"", sel)
            while time.time() - t0 < DRIBBLE_EVERY and self.socks:
                for key, _ in sel.select(0.1):
                    try:
                        said = key.fileobj.recv(4096)
                    except OSError:
                        said = b""
                    self.end(key.fileobj, said, sel)
        sel.close()

    def end(self, s, said, sel):
        start = self.socks.pop(s, None)
        if start is None:
            return
        sel.unregister(s)
        self.ended.append(time.time() - start)
        word = said.split(b"\r\n")[0][:70].decode("utf-8", "replace") or "(closed without a word)"
        word = word.replace("mail.example.test ", "")
        self.words[word] = self.words.get(word, 0) + 1
        s.close()


def flood(port, held, counts, stop):
    """Opens FLOOD port-25 connections (PER_ADDR per source address) as
    fast as it can and holds the accepted ones silent."""
    for i in range(FLOOD):
        if stop.is_set():
            return
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10,
                                         source_address=(addr(40, i // PER_ADDR), 0))
            s.settimeout(10)
            g = s.recv(200)
        except OSError:
            counts["error"] = counts.get("error", 0) + 1
            continue
        if g.startswith(b"220"):
            counts["accepted"] = counts.get("accepted", 0) + 1
            held.append(s)
        else:
            key = g.split(b"\r\n")[0].decode("utf-8", "replace").replace("mail.example.test ", "") or "closed"
            counts[key] = counts.get(key, 0) + 1
            s.close()


def main():
    raise_nofile(at_least=2 * (MAXCONN + DRIBBLERS + FLOOD) + 1000)
    if not os.path.exists(TERN):
        subprocess.run(["make", "-s", "-C", benchlib.ROOT, "build/tern"], check=True)
    work = Workdir("dribble")
    srv = Server(work)
    srv.start()
    try:
        print("smtp_dribble: binary %s" % TERN)
        print("  [limits] max_connections = %d, max_connections_per_ip = %d%s%s" % (
            MAXCONN, PER_ADDR, "" if OLD else ", data_deadline = %d, min_data_rate = %d" % (DEADLINE, MIN_RATE),
            (", " + EXTRA.strip().replace("\n", ", ")) if EXTRA.strip() else ""))
        print("  %d dribblers (1 byte every %.1f s inside DATA), a flood of %d port-25 connections" % (
            DRIBBLERS, DRIBBLE_EVERY, FLOOD))
        print("  %s" % benchlib.machine_line())
        base = login_series(srv.ports["imap"], rounds=LOGIN_ROUNDS)

        d = Dribblers(srv.ports["smtp"])
        d.open_all()
        dt = threading.Thread(target=d.run, daemon=True)
        dt.start()
        held, counts, stop = [], {}, threading.Event()
        ft = threading.Thread(target=flood, args=(srv.ports["smtp"], held, counts, stop), daemon=True)
        t_attack = time.time()
        ft.start()
        time.sleep(1.0)
        attack = login_series(srv.ports["imap"], until=time.time() + SECONDS)
        # Let the dribblers run out (or not) before reporting them.
        wait_until = t_attack + max(SECONDS, DEADLINE * 1.5 + 10)
        while d.socks and time.time() < wait_until:
            time.sleep(0.5)
        stop.set()
        d.stop = True
        ft.join(30)
        dt.join(5)

        print("results:")
        report_logins("alone", *base)
        report_logins("attacked", *attack)
        print("  flood on port 25: %s" % ", ".join("%s %d" % kv for kv in sorted(counts.items(), key=lambda kv: -kv[1])))
        print("  dribblers: %d in DATA (%d could not start), %d cut off, %d still open after %.0f s" % (
            DRIBBLERS - d.setup_failed, d.setup_failed, len(d.ended), len(d.socks), time.time() - t_attack))
        if d.ended:
            print("    cut off after s: min %.1f  median %.1f  max %.1f" % (
                min(d.ended), statistics.median(d.ended), max(d.ended)))
            for w, n in sorted(d.words.items(), key=lambda kv: -kv[1]):
                print("    %d× %s" % (n, w))
        for s in held:
            s.close()
        for s in list(d.socks):
            s.close()
    finally:
        srv.stop()
        work.cleanup()


if __name__ == "__main__":
    main()
