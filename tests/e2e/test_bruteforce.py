"""Brute force and password spraying (issue 4), from distinct loopback
addresses (loopback is not exempt): 1,000 wrong passwords from one address
and a spray of one wrong password over 200 accounts from another both end
blocked, while the real user from a third address still logs in; blocks
survive a restart and `tern auth blocked|unblock` show and lift them."""

import base64
import socket
import threading
import time

from harness import PASSWORD, Server, Suite, stop_and_check

suite = Suite()
ALICE = "alice@example.test"
ATTACKER = "127.0.1.11"
SPRAYER = "127.0.3.13"
REAL_USER = "127.0.2.12"


def pop3_login(srv, source, user, password):
    """Returns the server's answer to the login: '+OK...', '-ERR ...'."""
    with socket.create_connection(("127.0.0.1", srv.port("pop3")), timeout=60,
                                  source_address=(source, 0)) as s:
        f = s.makefile("rb")
        greeting = f.readline().decode()
        if not greeting.startswith("+OK"):
            return greeting.strip()
        s.sendall(("USER %s\r\nPASS %s\r\n" % (user, password)).encode())
        f.readline()
        answer = f.readline().decode().strip()
        s.sendall(b"QUIT\r\n")
        return answer


def smtp_auth(srv, source, user, password):
    with socket.create_connection(("127.0.0.1", srv.port("submission")), timeout=60,
                                  source_address=(source, 0)) as s:
        f = s.makefile("rb")
        greeting = f.readline().decode()
        if not greeting.startswith("220"):
            return greeting.strip()
        blob = base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode()
        s.sendall(("EHLO x\r\nAUTH PLAIN %s\r\n" % blob).encode())
        line = f.readline().decode()
        while line[3:4] == "-":
            line = f.readline().decode()
        return f.readline().decode().strip()


def setup():
    srv = Server()
    with open(srv.conf, "a") as f:
        # Short delays keep the test quick; the thresholds are the defaults.
        f.write("[bruteforce]\ndelay_max = 1\n")
    srv.add_user(ALICE)
    # 200 more accounts in one command (a Dovecot passwd-file import).
    path = srv.dir + "/users.passwd"
    with open(path, "w") as f:
        for i in range(200):
            f.write("user%03d@example.test:{PLAIN}pw-%d-secret::::::\n" % (i, i))
    srv.cli("user", "import-passwd", path)
    return srv.start()


def attack(n, threads, fn):
    answers = []
    lock = threading.Lock()
    todo = list(range(n))

    def run():
        while True:
            with lock:
                if not todo:
                    return
                i = todo.pop()
            a = fn(i)
            with lock:
                answers.append(a)
    ts = [threading.Thread(target=run) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return answers


@suite.case
def guessing_and_spraying_end_blocked_real_user_gets_in(srv):
    answers = attack(1000, 40, lambda i: pop3_login(srv, ATTACKER, ALICE, "guess-%d" % i))
    blocked = [a for a in answers if "Too many failed logins" in a]
    failed = [a for a in answers if a.startswith("-ERR [AUTH]")]
    assert len(blocked) + len(failed) == 1000, set(answers)
    assert len(failed) <= 60, "%d guesses were checked before the block" % len(failed)
    assert "Too many failed logins" in pop3_login(srv, ATTACKER, ALICE, PASSWORD)
    assert "Too many failed logins" in smtp_auth(srv, ATTACKER, ALICE, PASSWORD)

    # One wrong password over 200 accounts from another address.
    answers = attack(200, 20, lambda i: pop3_login(srv, SPRAYER, "user%03d@example.test" % i, "Spring2026!"))
    assert sum("Too many failed logins" in a for a in answers) >= 150, answers[:5]
    assert "Too many failed logins" in pop3_login(srv, SPRAYER, "user000@example.test", "pw-0-secret")

    # The real user, from elsewhere, is neither blocked nor refused.
    assert pop3_login(srv, REAL_USER, ALICE, PASSWORD).startswith("+OK")
    assert smtp_auth(srv, REAL_USER, ALICE, PASSWORD).startswith("235")

    listing = srv.cli("auth", "blocked").stdout
    assert ATTACKER in listing and SPRAYER in listing, listing

    # Restarting does not reset the defence.
    assert srv.stop() == 0
    srv.start()
    assert "Too many failed logins" in pop3_login(srv, ATTACKER, ALICE, PASSWORD)
    assert pop3_login(srv, REAL_USER, ALICE, PASSWORD).startswith("+OK")

    # The admin lifts a block; the server notices within seconds.
    srv.cli("auth", "unblock", ATTACKER)
    deadline = time.time() + 10
    while "Too many failed logins" in pop3_login(srv, ATTACKER, ALICE, PASSWORD):
        assert time.time() < deadline, "unblock not noticed"
        time.sleep(0.5)
    # Every attempt is one log line with protocol, address, account,
    # mechanism and result.
    lines = srv.tail(2000).splitlines()
    assert any("pop3" in l and "login" in l and "peer=%s" % REAL_USER in l and "mech=USER" in l and
               "result=ok" in l and ALICE in l for l in lines), "no log line for the real user's login"


suite.run(setup, stop_and_check)
