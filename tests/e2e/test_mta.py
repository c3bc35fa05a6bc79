"""End-to-end tests of the outbound SMTP client (src/mta) against a real
Tern as the destination: STARTTLS (opportunistic, and required with the
test CA), CHUNKING (BDAT) for the body, mixed per-recipient results, and
the SIZE limit checked before MAIL.  The client is driven through
`test_mta --deliver` (tests/unit/test_mta.c), a test-only front end."""

import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import ROOT, Suite, certificate  # noqa: E402
from mailcheck import assert_delivered_exact, case, fetch_all, message, setup, teardown_all  # noqa: E402

suite = Suite()
t = case(suite)
CLIENT = os.environ.get("TERN_MTA_CLIENT", os.path.join(ROOT, "build", "san", "tests", "test_mta"))


def send(srv, tls, ca, sender, msg, *rcpts):
    with tempfile.NamedTemporaryFile() as f:
        f.write(msg)
        f.flush()
        r = subprocess.run([CLIENT, "--deliver", str(srv.port("smtp")), tls, ca, sender, f.name] + list(rcpts),
                           capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = {"rcpt": []}
    for line in r.stdout.splitlines():
        key, _, rest = line.partition(" ")
        if key == "rcpt":
            code, status, text = (rest.split(" ", 2) + [""])[:3]
            out["rcpt"].append((int(code), status, text))
        else:
            out[key] = rest
    return out


def body_with_dots():
    lines = [b".starts with a dot", b"..two", b".", b"x" * 990] + [b"line %d of a message larger than one BDAT chunk" % i for i in range(40000)]
    return message(subject="mta", body=b"\r\n".join(lines) + b"\r\n", to="alice@example.test")


@t
def starttls_chunking_mixed_recipients(f):
    srv = f.std()
    msg = body_with_dots()   # > 1 MiB: more than one BDAT chunk
    assert len(msg) > 1024 * 1024
    out = send(srv, "required", certificate()[0], "sender@example.org", msg,
               "alice@example.test", "nobody@example.test", "bob@example.test")
    assert out["tls"] == "1", out
    assert out["chunking"] == "1", out
    codes = [r[0] for r in out["rcpt"]]
    assert codes[0] == 250 and codes[2] == 250, out
    assert codes[1] // 100 == 5, out
    assert out["closed"].startswith("221"), out
    for user in ("alice@example.test", "bob@example.test"):
        got = fetch_all(srv, user)
        assert len(got) == 1, len(got)
        trace = assert_delivered_exact(got[0], msg)
        flat = b" ".join(b" ".join(trace).split())
        assert b"ESMTPS" in flat or b"TLS" in flat, trace


@t
def required_tls_with_an_unknown_ca_fails(f):
    srv = f.std()
    out = send(srv, "required", "-", "sender@example.org", message(), "alice@example.test")
    assert out["rcpt"] == [], out
    assert out["tls"] == "0", out
    assert "closed 0" in "closed " + out["closed"], out
    assert "TLS" in out["closed"] or "certificate" in out["closed"], out
    assert fetch_all(srv, "alice@example.test") == []


@t
def size_limit_checked_before_mail(f):
    srv = f.std(max_message_size="10K")
    out = send(srv, "opportunistic", "-", "sender@example.org", message(body="y" * 20000), "alice@example.test")
    assert out["size"] == "1", out
    assert out["rcpt"][0][0] == 552 and out["rcpt"][0][1] == "5.3.4", out
    assert fetch_all(srv, "alice@example.test") == []


if __name__ == "__main__":
    suite.run(setup, teardown_all)
