"""Start-up errors that say what to do (issue 13): a port already in use
names the service and the address and points at `ss -ltnp`; a port below
1024 opened by a user without the right names CAP_NET_BIND_SERVICE and
[server] user."""

import os
import shutil
import socket
import stat
import subprocess
import tempfile

from harness import TERN, Server, Suite

suite = Suite()


def run_serve(conf, prefix=()):
    """Runs tern serve, which must fail at once; returns (status, stderr)."""
    r = subprocess.run(list(prefix) + [TERN, "serve", "--config", conf],
                       capture_output=True, text=True, timeout=30)
    return r.returncode, r.stderr


@suite.case
def port_in_use_names_service_and_suggests_ss(srv):
    busy = socket.socket()
    busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    busy.bind(("127.0.0.1", srv.port("submission")))
    busy.listen(1)
    try:
        status, err = run_serve(srv.conf)
    finally:
        busy.close()
    assert status != 0, err
    want = "listen submission 127.0.0.1:%d: Address already in use" % srv.port("submission")
    assert want in err, err
    assert "ss -ltnp 'sport = :%d'" % srv.port("submission") in err, err
    assert "[listen] submission" in err, err


@suite.case
def low_port_as_non_root_names_the_capability(srv):
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        print("# skip: needs root and setpriv to run the server as an unprivileged user")
        return
    # A config nobody can read, on a port below 1024 that is free.
    port = None
    for p in range(1000, 1023):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
            port = p
            break
        except OSError:
            continue
        finally:
            s.close()
    assert port is not None
    d = tempfile.mkdtemp(prefix="tern-e2e-lowport-")
    try:
        os.chmod(d, 0o755)
        conf = os.path.join(d, "tern.conf")
        with open(conf, "w") as f:
            f.write("[server]\nhostname = mail.example.test\ndata_dir = %s/data\n"
                    "[listen]\nsmtp = 127.0.0.1:%d\n[inbound]\nchecks = no\n" % (d, port))
        os.chmod(conf, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)
        status, err = run_serve(conf, [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
                                       "--inh-caps=-all", "--bounding-set=-all"])
    finally:
        shutil.rmtree(d, ignore_errors=True)
    assert status != 0, err
    assert "listen smtp 127.0.0.1:%d: Permission denied" % port in err, err
    assert "CAP_NET_BIND_SERVICE" in err and "[server] user" in err, err


suite.run(Server, lambda srv: srv.cleanup())
