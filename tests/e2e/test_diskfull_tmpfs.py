"""A really full disk (issue 8, defect 3): the data directory sits on a tmpfs
of 8 MiB, filled with deliveries until the server answers 452 4.3.1.  Then
users must still be able to delete: IMAP STORE \\Deleted + EXPUNGE, IMAP
MOVE to Trash (how Thunderbird, Apple Mail and phones delete) and then
EXPUNGE there, POP3 DELE + QUIT, IMAP DELETE of a mailbox.  Each must
succeed and free space, after which new mail is accepted again.  A search
still answers while the disk is full.

The server keeps a disk reserve (here [server] disk_reserve = 1M,
lib/reserve.h): a delete that fails for space frees it and runs again,
and deliveries wait until it is back.

Needs root (mount -t tmpfs); where mounting is not permitted every case
prints "ok NAME # skipped: ..." and a "# skipped" note."""

import imaplib
import os
import poplib
import smtplib
import subprocess
import tempfile

from harness import PASSWORD, Server, Suite, stop_and_check

suite = Suite()
USER = "alice@example.test"
SIZE = "8m"
CHUNK = 48 * 1024            # octets per filler message
WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliett kilo lima mike november"
         " oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu").split()


class TmpfsServer(Server):
    """A server whose data directory is on a fresh tmpfs mounted at mnt."""

    def __init__(self, mnt):
        self.mnt = mnt
        super().__init__(extra="[server]\ndisk_reserve = 1M\n")

    def write_config(self):
        self.data = os.path.join(self.mnt, "data")
        super().write_config()


def mount_tmpfs():
    """A tmpfs of SIZE at a new directory, or (None, reason)."""
    mnt = tempfile.mkdtemp(prefix="tern-tmpfs-")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + SIZE + ",mode=0755", "tmpfs", mnt],
                       capture_output=True, text=True)
    if r.returncode != 0:
        os.rmdir(mnt)
        return None, (r.stderr.strip() or "mount failed")
    return mnt, None


def unmount(mnt):
    subprocess.run(["umount", "-l", mnt], capture_output=True)
    try:
        os.rmdir(mnt)
    except OSError:
        pass


def free_bytes(path):
    s = os.statvfs(path)
    return s.f_bavail * s.f_frsize


def message(i, size=CHUNK):
    lines, n, k = [], 0, i
    while n < size:
        k = (k * 1103515245 + 12345) & 0x7fffffff
        line = " ".join(WORDS[(k >> s) % len(WORDS)] for s in range(0, 24, 2)) + " %d" % k
        lines.append(line)
        n += len(line) + 2
    return ("From: filler@example.net\r\nTo: %s\r\nSubject: filler %d\r\n\r\n" % (USER, i)
            + "\r\n".join(lines) + "\r\n").encode()


def deliver(srv, data):
    """Sends one message: 250 -> True; 452 4.3.1 -> False."""
    s = smtplib.SMTP("127.0.0.1", srv.port("smtp"), timeout=30)
    try:
        s.sendmail("filler@example.net", [USER], data)
        return True
    except smtplib.SMTPDataError as e:
        assert e.smtp_code == 452 and b"4.3.1" in e.smtp_error, e
        return False
    finally:
        try:
            s.quit()
        except smtplib.SMTPException:
            pass


def fill(srv):
    """Delivers until the server says the disk is full; returns how many
    messages it took."""
    n = 0
    while deliver(srv, message(n)):
        n += 1
        assert n < 400, "the disk never filled"
    # Smaller messages fill what is left.
    while deliver(srv, message(1000 + n, 4096)):
        n += 1
        assert n < 2000, "the disk never filled"
    assert n > 20, n
    # A restart (the operator's first reflex) closes the indexes, which
    # removes their WAL files: the next write must grow a new one.
    assert srv.stop() == 0
    srv.start()
    fill_rest(srv.mnt)
    return n


def fill_rest(mnt):
    """Takes every octet still free, as another program (or a log) would:
    from now on only the disk reserve stands between a delete and ENOSPC."""
    fd = os.open(os.path.join(mnt, "ballast"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    assert free_bytes(mnt) < 4096, free_bytes(mnt)


def imap(srv):
    m = imaplib.IMAP4("127.0.0.1", srv.port("imap"), timeout=60)
    m.login(USER, PASSWORD)
    return m


def ok(resp):
    typ, data = resp
    assert typ == "OK", (typ, data)
    return data


def mail_flows_again(srv):
    before = free_bytes(srv.mnt)
    assert deliver(srv, message(9999, 2048)), "delivery still refused after the delete"
    assert free_bytes(srv.mnt) < before


def reserve_notes(srv):
    """Prints what the disk reserve did, and checks that the disk really
    was full (something needed the reserve) and that it came back."""
    log = srv.tail(100000)
    for line in log.splitlines():
        if "disk reserve" in line or "disk full" in line:
            print("# server:", line.split(" ", 2)[-1])
    assert "released the disk reserve" in log
    assert "disk reserve restored" in log


def setup():
    mnt, why = mount_tmpfs()
    if mnt is None:
        return ("skip", why)
    srv = None
    try:
        srv = TmpfsServer(mnt)
        srv.add_user(USER)
        srv.start()
        # One IMAP login while there is room: the default mailboxes.
        m = imap(srv)
        m.logout()
        return srv
    except BaseException:
        if srv is not None:
            srv.cleanup()
        unmount(mnt)
        raise


def teardown(fixture):
    if isinstance(fixture, tuple):
        return
    try:
        stop_and_check(fixture)
    finally:
        unmount(fixture.mnt)


def skippable(fn):
    def wrapper(fixture):
        if isinstance(fixture, tuple):
            print("# skipped: %s: cannot mount a tmpfs (%s)" % (fn.__name__, fixture[1]))
            return
        fn(fixture)
    wrapper.__name__ = fn.__name__
    return suite.case(wrapper)


@skippable
def imap_expunge_on_a_full_disk_frees_space(srv):
    n = fill(srv)
    m = imap(srv)
    ok(m.select("INBOX"))
    # SEARCH answers on a full disk (messages the indexer could not reach
    # are read from their files).
    data = ok(m.search(None, "BODY", "filler"))
    assert data == [b""], data       # "filler" is in the header only
    data = ok(m.search(None, "TEXT", '"filler 3"'))
    assert b"4" in data[0].split(), data
    assert len(ok(m.search(None, "BODY", "zulu"))[0].split()) == n
    before = free_bytes(srv.mnt)
    ok(m.store("1:%d" % (n // 2), "+FLAGS", "(\\Deleted)"))
    ok(m.expunge())
    assert free_bytes(srv.mnt) > before + (n // 4) * CHUNK // 2, (before, free_bytes(srv.mnt))
    m.logout()
    mail_flows_again(srv)
    reserve_notes(srv)


@skippable
def imap_move_to_trash_then_expunge_on_a_full_disk(srv):
    n = fill(srv)
    m = imap(srv)
    ok(m.select("INBOX"))
    typ, data = m.append("INBOX", None, None, message(5000, 16384))
    assert typ == "NO" and b"[LIMIT]" in data[0], (typ, data)
    typ, data = m._simple_command("MOVE", "1:%d" % n, "Trash")
    assert typ == "OK", (typ, data)
    ok(m.select("Trash"))
    before = free_bytes(srv.mnt)
    ok(m.store("1:*", "+FLAGS", "(\\Deleted)"))
    ok(m.expunge())
    assert free_bytes(srv.mnt) > before + n * CHUNK // 4, (before, free_bytes(srv.mnt))
    ok(m.append("INBOX", None, None, message(5001, 2048)))
    m.logout()
    mail_flows_again(srv)
    reserve_notes(srv)


@skippable
def pop3_dele_quit_on_a_full_disk(srv):
    n = fill(srv)
    p = poplib.POP3("127.0.0.1", srv.port("pop3"), timeout=60)
    p.user(USER)
    p.pass_(PASSWORD)
    count = len(p.list()[1])
    assert count == n, (count, n)
    before = free_bytes(srv.mnt)
    for i in range(1, count + 1):
        p.dele(i)
    resp = p.quit()
    assert resp.startswith(b"+OK"), resp
    assert free_bytes(srv.mnt) > before + n * CHUNK // 4, (before, free_bytes(srv.mnt))
    mail_flows_again(srv)
    reserve_notes(srv)


@skippable
def imap_delete_mailbox_on_a_full_disk(srv):
    m = imap(srv)
    ok(m.create("Old"))
    m.logout()
    n = fill(srv)
    m = imap(srv)
    ok(m.select("INBOX"))
    typ, data = m._simple_command("MOVE", "1:%d" % n, "Old")
    assert typ == "OK", (typ, data)
    ok(m.select("INBOX"))
    before = free_bytes(srv.mnt)
    ok(m.delete("Old"))
    assert free_bytes(srv.mnt) > before + n * CHUNK // 4, (before, free_bytes(srv.mnt))
    m.logout()
    mail_flows_again(srv)
    reserve_notes(srv)


suite.run(setup, teardown)
