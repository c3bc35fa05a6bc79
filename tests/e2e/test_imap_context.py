"""End-to-end tests of live and paged searches: CONTEXT=SEARCH (RFC 5267:
SEARCH RETURN (UPDATE) with its ESEARCH ADDTO / REMOVEFROM notifications,
CANCELUPDATE, NOUPDATE, PARTIAL), RFC 9394's "-m:-n" PARTIAL ranges,
WITHIN (RFC 5032: OLDER, YOUNGER) and SAVEDATE (RFC 8514: FETCH SAVEDATE,
SEARCH SAVEDBEFORE / SAVEDON / SAVEDSINCE / SAVEDATESUPPORTED).  Expected answers are written from the
RFCs' text and examples (RFC 5267 4.3.3 and 4.3.4: ADDTO after the EXISTS
that numbers the message, REMOVEFROM before the EXPUNGE while its number
still holds; positions are 0 for SEARCH).  Cross-checked by hand with
Dovecot 2.3.19 on the same commands: PARTIAL answers, COUNT with PARTIAL,
SAVE with PARTIAL, UPDATE after STORE, CANCELUPDATE of an unknown tag (NO),
OLDER 0 (BAD), SAVEDATE and SAVEDATESUPPORTED agree; Dovecot 2.3 predates
RFC 9394's "-m:-n" (BAD there), and it sends every REMOVEFROM of an
EXPUNGE first (numbers before any removal) and the EXPUNGEs from the
highest down, where Tern puts each REMOVEFROM just before its own EXPUNGE
(both keep the numbers valid, as RFC 5267 4.3.4 asks)."""

import os
import random
import re
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Suite  # noqa: E402
from imapcheck import (  # noqa: E402
    Lit, esearch, expand_set, fetches, internaldate_epoch, select, shared_suite, untagged_of)
from mailcheck import message, user_dir  # noqa: E402

suite = Suite()
t, run = shared_suite(suite)


def append(c, msg, flags=None, date=None, mailbox="INBOX"):
    pieces = ['APPEND "%s" ' % mailbox] + (["(%s) " % flags] if flags else []) + \
        (['"%s" ' % date] if date else []) + [Lit(msg)]
    untagged, tagged, sent = c.cmd_literals(pieces)
    m = re.search(r"\[APPENDUID (\d+) (\d+)\]", tagged)
    assert sent and m, tagged
    return int(m.group(2))


def fill(c, n):
    return [append(c, message(subject="ctx %d" % i, body="body %d\r\n" % i)) for i in range(n)]


def updates(untagged):
    """The ESEARCH lines of untagged, as text."""
    return [r.decode() for r in untagged if r.upper().startswith(b"* ESEARCH")]


@t
def capabilities(f):
    c = f.conn(f.user())
    try:
        caps = c.ok("CAPABILITY")[0].decode().split()
        for cap in ("CONTEXT=SEARCH", "WITHIN", "ESEARCH"):
            assert cap in caps, caps
    finally:
        c.close()


@t
def partial_ranges(f):
    c = f.conn(f.user())
    try:
        uids = fill(c, 5)
        select(c)
        # RFC 5267 4.4 / RFC 9394 3.1: the range as asked (500:400 is
        # 400:500), then the results in it, NIL when there are none.
        for rng, want in (("1:1", "(1:1 1)"), ("2:4", "(2:4 2:4)"), ("4:2", "(2:4 2:4)"),
                          ("1:9", "(1:9 1:5)"), ("6:9", "(6:9 NIL)"),
                          ("-1:-2", "(-1:-2 4:5)"), ("-2:-1", "(-1:-2 4:5)"), ("-5:-9", "(-5:-9 1)"),
                          ("-6:-9", "(-6:-9 NIL)")):
            u = c.ok("SEARCH RETURN (PARTIAL %s) ALL" % rng, tag="p1")
            assert updates(u) == ['* ESEARCH (TAG "p1") PARTIAL %s' % want], (rng, u)
        # Over the matches, not the mailbox; COUNT still counts them all.
        u = c.ok("SEARCH RETURN (PARTIAL 2:3 COUNT) 1:2,4:5", tag="p2")
        tag, uid, items = esearch(u)
        assert tag == "p2" and not uid and items["COUNT"] == "4" and items["PARTIAL"] == ["2:3", "2,4"], u
        u = c.ok("UID SEARCH RETURN (PARTIAL -1:-1) ALL", tag="p3")
        assert updates(u) == ['* ESEARCH (TAG "p3") UID PARTIAL (-1:-1 %d)' % uids[4]], u
        # SAVE keeps what was returned, as with MIN and MAX (RFC 5182 2.4).
        c.ok("SEARCH RETURN (SAVE PARTIAL 2:3) ALL")
        fs = fetches(c.ok("FETCH $ (UID)"))
        assert sorted(fs) == [2, 3], fs
        # Syntax (RFC 9394 4): nz-number, no "*", both ends of one sign;
        # one PARTIAL or one ALL.
        for bad in ("PARTIAL 1", "PARTIAL 0:3", "PARTIAL 1:*", "PARTIAL *:1", "PARTIAL -1:3",
                    "PARTIAL 1:4294967296", "PARTIAL", "PARTIAL 1:2 ALL", "PARTIAL 1:2 PARTIAL 3:4",
                    "PARTIAL (1:2)"):
            u, tagged = c.cmd("SEARCH RETURN (%s) ALL" % bad, tag="b1")
            assert tagged.startswith("b1 BAD"), (bad, tagged)
    finally:
        c.close()


@t
def update_own_changes(f):
    c = f.conn(f.user())
    try:
        fill(c, 5)
        select(c)
        u = c.ok("SEARCH RETURN (UPDATE COUNT) UNSEEN", tag="U1")
        assert updates(u) == ['* ESEARCH (TAG "U1") COUNT 5'], u
        # A flag change: the FETCH, then the REMOVEFROM (position 0).
        u = c.ok("STORE 2,4 +FLAGS (\\Seen)")
        assert updates(u) == ['* ESEARCH (TAG "U1") REMOVEFROM (0 2,4)'], u
        assert u.index(next(r for r in u if b"ESEARCH" in r)) > max(
            i for i, r in enumerate(u) if b"FETCH" in r), u
        u = c.ok("STORE 2 -FLAGS (\\Seen)")
        assert updates(u) == ['* ESEARCH (TAG "U1") ADDTO (0 2)'], u
        # No change to the result, no notification.
        u = c.ok("STORE 1 +FLAGS (\\Flagged)")
        assert updates(u) == [], u
        # APPEND: EXISTS first, then ADDTO with the new number.
        untagged, tagged, sent = c.cmd_literals(['APPEND INBOX ', Lit(message(subject="six"))])
        assert "OK" in tagged, tagged
        assert untagged[:1] == [b"* 6 EXISTS"], untagged
        assert updates(untagged) == ['* ESEARCH (TAG "U1") ADDTO (0 6)'], untagged
        # EXPUNGE of 3 (unseen), 4 (seen) and 5 (unseen): each REMOVEFROM
        # just before its EXPUNGE, numbered as the client counts then.
        c.ok("STORE 3:5 +FLAGS.SILENT (\\Deleted)")
        u = c.ok("EXPUNGE")
        assert [r.decode() for r in u] == [
            '* ESEARCH (TAG "U1") REMOVEFROM (0 3)', "* 3 EXPUNGE",
            "* 3 EXPUNGE",
            '* ESEARCH (TAG "U1") REMOVEFROM (0 3)', "* 3 EXPUNGE"], u
        # What the client holds now is what a new search finds.
        u = c.ok("SEARCH RETURN (ALL) UNSEEN", tag="chk")
        assert esearch(u)[2]["ALL"] == "1:3", u
    finally:
        c.close()


@t
def update_other_session(f):
    user = f.user()
    a, b = f.conn(user), f.conn(user)
    try:
        uids = fill(a, 4)
        select(a)
        select(b)
        u = a.ok("UID SEARCH RETURN (UPDATE) FLAGGED", tag="W1")
        assert updates(u) == ['* ESEARCH (TAG "W1") UID'], u
        u = a.ok("SEARCH RETURN (UPDATE MIN) UNFLAGGED", tag="W2")
        assert updates(u) == ['* ESEARCH (TAG "W2") MIN 1'], u
        b.ok("STORE 2:3 +FLAGS (\\Flagged)")
        u = a.ok("NOOP")
        # UPDATE does not interact with MIN (RFC 5267 4.3): every change.
        assert sorted(updates(u)) == ['* ESEARCH (TAG "W1") UID ADDTO (0 %d:%d)' % (uids[1], uids[2]),
                                      '* ESEARCH (TAG "W2") REMOVEFROM (0 2:3)'], u
        assert max(i for i, r in enumerate(u) if b"FETCH" in r) < min(
            i for i, r in enumerate(u) if b"ESEARCH" in r), u
        # New mail, flagged: EXISTS then ADDTO.
        new = append(b, message(subject="flagged"), flags="\\Flagged")
        u = a.ok("NOOP")
        assert untagged_of(u, "EXISTS") == [b"* 5 EXISTS"], u
        assert updates(u) == ['* ESEARCH (TAG "W1") UID ADDTO (0 %d)' % new], u
        assert [r for r in u if b"EXISTS" in r or b"ESEARCH" in r][0] == b"* 5 EXISTS", u
        # Expunged elsewhere: REMOVEFROM comes before the EXPUNGE.
        b.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
        b.ok("EXPUNGE")
        u = a.ok("NOOP")
        assert [r.decode() for r in u if b"ESEARCH" in r or b"EXPUNGE" in r] == [
            '* ESEARCH (TAG "W1") UID REMOVEFROM (0 %d)' % uids[1], "* 2 EXPUNGE"], u
        # Nothing while FETCH runs may tell of expunges (RFC 9051 7.5.1),
        # so neither may its REMOVEFROM.
        b.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
        b.ok("EXPUNGE")
        u = a.ok("FETCH 1 (FLAGS)")
        assert updates(u) == [] and not untagged_of(u, "EXPUNGE"), u
        u = a.ok("NOOP")
        assert [r.decode() for r in u if b"ESEARCH" in r or b"EXPUNGE" in r] == [
            '* ESEARCH (TAG "W1") UID REMOVEFROM (0 %d)' % uids[2], "* 2 EXPUNGE"], u
    finally:
        a.close()
        b.close()


@t
def update_during_idle(f):
    # RFC 5267 4.3.2: updates may come at any time, IDLE included; the
    # session is woken as for EXISTS and FETCH.
    user = f.user()
    a, b = f.conn(user), f.conn(user)
    try:
        fill(a, 2)
        select(a)
        select(b)
        a.ok("SEARCH RETURN (UPDATE) SEEN", tag="I1")
        a.send("idle IDLE\r\n")
        assert a.response().startswith(b"+"), "no continuation"
        b.ok("STORE 2 +FLAGS (\\Seen)")
        a.sock.settimeout(10)
        got = []
        while b"ESEARCH" not in b"".join(got):
            got.append(a.response())
        assert got[-1] == b'* ESEARCH (TAG "I1") ADDTO (0 2)', got
        assert any(b"FETCH" in r for r in got[:-1]), got
        a.send("DONE\r\n")
        untagged, tagged = a.read_until_tagged("idle")
        assert tagged.startswith("idle OK") and updates(untagged) == [], (untagged, tagged)
    finally:
        a.close()
        b.close()


@t
def update_with_qresync(f):
    user = f.user()
    a, b = f.conn(user), f.conn(user)
    try:
        uids = fill(a, 3)
        a.ok("ENABLE QRESYNC")
        select(a)
        select(b)
        a.ok("SEARCH RETURN (UPDATE) ALL", tag="Q1")
        b.ok("STORE 1,3 +FLAGS.SILENT (\\Deleted)")
        b.ok("EXPUNGE")
        u = a.ok("NOOP")
        # All of the REMOVEFROM before the one VANISHED, numbered as the
        # client knew the messages before it.
        assert [r.decode() for r in u] == ['* ESEARCH (TAG "Q1") REMOVEFROM (0 1,3)',
                                          "* VANISHED %d,%d" % (uids[0], uids[2])], u
    finally:
        a.close()
        b.close()


@t
def cancel_and_limits(f):
    user = f.user()
    a, b = f.conn(user), f.conn(user)
    try:
        fill(a, 3)
        select(a)
        select(b)
        a.ok("SEARCH RETURN (UPDATE) SEEN", tag="C1")
        # RFC 5267 4.3: UPDATE under a tag in use is BAD.
        u, tagged = a.cmd("SEARCH RETURN (UPDATE) ALL", tag="C1")
        assert tagged.startswith("C1 BAD"), tagged
        # A search of that tag without UPDATE is fine.
        a.ok("SEARCH ALL", tag="C1")
        u, tagged = a.cmd('CANCELUPDATE "nosuch"')
        assert " NO " in tagged, tagged
        for bad in ("CANCELUPDATE", "CANCELUPDATE C1"):
            u, tagged = a.cmd(bad, tag="b2")
            assert tagged.startswith("b2 BAD"), (bad, tagged)
        a.ok('CANCELUPDATE "C1"')
        b.ok("STORE 1 +FLAGS (\\Seen)")
        u = a.ok("NOOP")
        assert updates(u) == [] and fetches(u), u
        # The tag is free again.
        a.ok("SEARCH RETURN (UPDATE) SEEN", tag="C1")
        # Ten live contexts; the eleventh is refused with an untagged
        # NO [NOUPDATE] and its other options are still answered.
        for i in range(2, 11):
            a.ok("SEARCH RETURN (UPDATE) SEEN", tag="C%d" % i)
        u = a.ok("SEARCH RETURN (UPDATE COUNT) SEEN", tag="C11")
        assert u[0].decode().startswith('* NO [NOUPDATE "C11"]'), u
        assert updates(u) == ['* ESEARCH (TAG "C11") COUNT 1'], u
        b.ok("STORE 2 +FLAGS (\\Seen)")
        u = a.ok("NOOP")
        assert sorted(updates(u)) == sorted('* ESEARCH (TAG "C%d") ADDTO (0 2)' % i for i in range(1, 11)), u
        # Cancelling several at once frees room.
        a.ok('CANCELUPDATE "C1" "C2"')
        u = a.ok("SEARCH RETURN (UPDATE) SEEN", tag="C12")
        assert not untagged_of(u, "NO"), u
        # A program over 64 KiB is answered but not kept.
        pieces = ["SEARCH RETURN (UPDATE)"]
        for ch in b"vwxyz":
            pieces += [" SUBJECT ", Lit(bytes([ch]) * 15000)]
        u, tagged, sent = a.cmd_literals(pieces, tag="Cbig")
        assert tagged.startswith("Cbig OK"), tagged
        assert u[0].decode().startswith('* NO [NOUPDATE "Cbig"]'), u
        assert updates(u) == ['* ESEARCH (TAG "Cbig")'], u
        u = a.ok("SEARCH RETURN (UPDATE) SEEN", tag="C13")
        assert not untagged_of(u, "NO"), u
        # Updates end when the mailbox is no longer selected.
        select(a)
        b.ok("STORE 3 +FLAGS (\\Seen)")
        u = a.ok("NOOP")
        assert updates(u) == [], u
        a.ok("SEARCH RETURN (UPDATE) SEEN", tag="C3")
        a.ok("UNSELECT")
        u, tagged = a.cmd('CANCELUPDATE "C3"', tag="b3")
        assert tagged.startswith("b3 BAD") or tagged.startswith("b3 NO"), tagged
    finally:
        a.close()
        b.close()


@t
def update_body_search(f):
    # BODY goes through the full-text index, which must hold a message
    # appended after the search (store_fts_search indexes what is missing).
    c = f.conn(f.user())
    try:
        append(c, message(subject="a", body="nothing here\r\n"))
        select(c)
        u = c.ok("SEARCH RETURN (UPDATE ALL) BODY needle", tag="B1")
        assert updates(u) == ['* ESEARCH (TAG "B1")'], u
        untagged, tagged, sent = c.cmd_literals(['APPEND INBOX ', Lit(message(body="a needle inside\r\n"))])
        assert updates(untagged) == ['* ESEARCH (TAG "B1") ADDTO (0 2)'], untagged
        assert untagged.index(b"* 2 EXISTS") < untagged.index(b'* ESEARCH (TAG "B1") ADDTO (0 2)'), untagged
    finally:
        c.close()


@t
def within(f):
    c = f.conn(f.user())
    try:
        old = append(c, message(subject="old"), date="01-Jan-2020 12:00:00 +0000")
        new = append(c, message(subject="new"))
        select(c)
        # RFC 5032 3: YOUNGER n is an internal date within the last n
        # seconds, OLDER n before that.
        u = c.ok("UID SEARCH RETURN (ALL) YOUNGER 3600", tag="y")
        assert esearch(u)[2]["ALL"] == str(new), u
        u = c.ok("UID SEARCH RETURN (ALL) OLDER 3600", tag="o")
        assert esearch(u)[2]["ALL"] == str(old), u
        u = c.ok("UID SEARCH RETURN (COUNT) OLDER 3600 YOUNGER 3600", tag="n")
        assert esearch(u)[2]["COUNT"] == "0", u
        u = c.ok("UID SEARCH RETURN (ALL) OR OLDER 4000000000 YOUNGER 4000000000", tag="b")
        assert esearch(u)[2]["ALL"] == "%d:%d" % (old, new), u
        for bad in ("OLDER 0", "YOUNGER", "YOUNGER x", "OLDER -5", "OLDER 4294967296"):
            u, tagged = c.cmd("SEARCH " + bad, tag="w")
            assert tagged.startswith("w BAD"), (bad, tagged)
    finally:
        c.close()


def apply_updates(model, untagged):
    """Applies what the client is told to its copies of two live results
    (model: {"S": set of sequence numbers, "U": set of UIDs, "n": messages
    in the mailbox}) the way RFC 5267 4.3.3/4.3.4 says: ADDTO and
    REMOVEFROM in order, and each EXPUNGE renumbering the sequence numbers
    above it."""
    for r in untagged:
        text = r.decode()
        m = re.match(r"\* (\d+) EXISTS$", text)
        if m:
            model["n"] = int(m.group(1))
            continue
        m = re.match(r'\* ESEARCH \(TAG "(\w+)"\)( UID)?(.*)$', text)
        if m:
            key = "U" if m.group(2) else "S"
            for op, pos, ids in re.findall(r"(ADDTO|REMOVEFROM) \((\d+) ([\d:,]+)\)", m.group(3)):
                assert pos == "0", text
                model["told"] = model.get("told", 0) + 1
                for x in expand_set(ids):
                    if op == "ADDTO":
                        assert x not in model[key], (text, model)
                        model[key].add(x)
                    else:
                        assert x in model[key], (text, model)
                        model[key].discard(x)
            continue
        m = re.match(r"\* (\d+) EXPUNGE$", text)
        if m:
            n = int(m.group(1))
            # REMOVEFROM came first: the expunged message left the result
            assert n not in model["S"], (text, model)
            model["S"] = {x - 1 if x > n else x for x in model["S"]}
            model["n"] -= 1


def result_of(untagged, tag):
    """The ALL of the ESEARCH for tag, as a sorted list."""
    rs = [r.decode() for r in untagged if r.startswith(b'* ESEARCH (TAG "%s")' % tag.encode())]
    assert len(rs) == 1, untagged
    m = re.search(r" ALL ([\d:,]+)", rs[0])
    return expand_set(m.group(1)) if m else []


@t
def live_results_stay_true_under_concurrent_change(f):
    # Two other sessions flag, unflag, expunge and append at random while
    # this one holds a live SEARCH and a live UID SEARCH and works too; the
    # results it keeps from the notifications must stay what a new search
    # finds (imaptest's stress mode has no UPDATE).
    user = f.user()
    a = f.conn(user)
    others = [f.conn(user), f.conn(user)]
    rng = random.Random(5267)
    try:
        fill(a, 12)
        select(a)
        for o in others:
            select(o)
        model = {"S": set(), "U": set(), "n": 12}
        u = a.ok("SEARCH RETURN (UPDATE) FLAGGED", tag="LS")
        u += a.ok("UID SEARCH RETURN (UPDATE) FLAGGED", tag="LU")
        assert updates(u) == ['* ESEARCH (TAG "LS")', '* ESEARCH (TAG "LU") UID'], u
        stop = threading.Event()
        errors = []
        top = [12]                      # the highest UID given out so far

        def churn(c, seed):
            r = random.Random(seed)
            try:
                while not stop.is_set():
                    op = r.random()
                    uid = r.randint(max(1, top[0] - 15), top[0])
                    if op < 0.05:
                        c.ok("UID STORE 1:* %sFLAGS.SILENT (\\Flagged)" % r.choice("+-"))
                    elif op < 0.7:
                        c.ok("UID STORE %d:%d %sFLAGS.SILENT (\\Flagged)" % (uid, uid + r.randint(0, 2),
                                                                            r.choice("+-")))
                    elif op < 0.85:
                        c.ok("UID STORE %d +FLAGS.SILENT (\\Deleted)" % uid)
                        c.ok("UID EXPUNGE 1:*")
                    else:
                        top[0] = max(top[0], append(c, message(subject="churn"),
                                                    flags=r.choice(["\\Flagged", None])))
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        def check(exact):
            # While others change the mailbox a search's answer and the
            # updates after it may be of different moments (the sync
            # before the tagged reply reads anew), so only the invariants
            # in apply_updates hold; once all is quiet the copies must be
            # exactly what a new search finds.  SEARCH holds expunges
            # back, UID SEARCH tells them.
            u = a.ok("UID SEARCH RETURN (ALL) FLAGGED", tag="chk")
            apply_updates(model, u)
            if exact:
                assert sorted(model["U"]) == result_of(u, "chk"), (sorted(model["U"]), u)
            u, tagged = a.cmd("SEARCH RETURN (ALL) FLAGGED", tag="chs")
            assert " OK " in tagged, tagged
            apply_updates(model, u)
            if exact:
                assert "EXPUNGEISSUED" not in tagged, tagged
                assert sorted(model["S"]) == result_of(u, "chs"), (sorted(model["S"]), u)

        threads = [threading.Thread(target=churn, args=(o, 100 + i)) for i, o in enumerate(others)]
        for th in threads:
            th.start()
        try:
            for i in range(80):
                uid = rng.randint(max(1, top[0] - 15), top[0])
                cmd = rng.choice(["NOOP", "FETCH 1:* (FLAGS)", "UID FETCH 1:* (UID)", "CHECK",
                                  "UID STORE %d -FLAGS (\\Flagged)" % uid, "UID STORE %d +FLAGS (\\Flagged)" % uid])
                apply_updates(model, a.ok(cmd))
                check(False)
        finally:
            stop.set()
            for th in threads:
                th.join()
        assert not errors, errors
        # Quiet now: the copies are exact.
        apply_updates(model, a.ok("NOOP"))
        check(True)
        assert model["told"] > 20, model
    finally:
        a.close()
        for o in others:
            o.close()


@t
def savedate(f):
    user = f.user()
    c = f.conn(user)
    try:
        caps = c.ok("CAPABILITY")[0].decode().split()
        assert "SAVEDATE" in caps, caps
        c.ok('CREATE "Other"')
        t0 = time.time()
        old = append(c, message(subject="appended"), date="01-Jan-2020 12:00:00 +0000")
        kept = append(c, message(subject="kept"), date="02-Jan-2020 12:00:00 +0000")
        gone = append(c, message(subject="pre-savedate"), date="03-Jan-2020 12:00:00 +0000")
        t1 = time.time()
        # A message stored before Tern kept save dates has none.
        db = sqlite3.connect(os.path.join(user_dir(f.srv, user), "index.db"), timeout=30)
        db.execute("UPDATE messages SET save_date = NULL WHERE uid = ?", (gone,))
        db.commit()
        db.close()
        select(c)
        fs = fetches(c.ok("UID FETCH 1:* (SAVEDATE INTERNALDATE)"))
        by_uid = {int(v["UID"]): v for v in fs.values()}
        # RFC 8514 3: when the message was saved, not its internal date.
        for uid in (old, kept):
            saved = internaldate_epoch(by_uid[uid]["SAVEDATE"])
            assert int(t0) - 1 <= saved <= t1 + 1, (by_uid[uid], t0, t1)
            assert internaldate_epoch(by_uid[uid]["INTERNALDATE"]) < saved, by_uid[uid]
        assert by_uid[gone]["SAVEDATE"] is None, by_uid[gone]
        # SAVED* compare the save date's day in UTC (the internal date's
        # for a message without one); SAVEDATESUPPORTED is every message.
        today = time.strftime("%d-%b-%Y", time.gmtime(t1))
        for key, want in (("SAVEDON " + today, [old, kept]), ("SAVEDSINCE " + today, [old, kept]),
                          ("SAVEDBEFORE " + today, [gone]), ("SAVEDON 3-Jan-2020", [gone]),
                          ("SAVEDSINCE 1-Jan-2030", []), ("SAVEDATESUPPORTED", [old, kept, gone])):
            u = c.ok("UID SEARCH " + key)
            got = [int(w) for w in untagged_of(u, "SEARCH")[0].decode().split()[2:]]
            assert got == want, (key, u)
        # COPY and MOVE save anew: the copy's save date is the copy's time.
        time.sleep(1.1)
        t2 = time.time()
        c.ok("UID COPY %d Other" % old)
        c.ok("UID MOVE %d Other" % gone)
        select(c, "Other")
        fs = fetches(c.ok("FETCH 1:* (SAVEDATE)"))
        assert len(fs) == 2, fs
        for v in fs.values():
            assert v["SAVEDATE"] is not None and internaldate_epoch(v["SAVEDATE"]) >= int(t2), fs
    finally:
        c.close()


run()
