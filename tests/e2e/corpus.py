"""Realistic text messages for the full-text index size test and the
bench/fts-size probe: paragraphs of real English prose (the Debian
changelogs of a fixed list of base packages and the license texts every
Debian system has under /usr/share),
with the headers a delivered message carries (Received, DKIM-Signature,
Message-ID...), a third of them multipart/alternative with an HTML twin,
some quoted-printable.  Deterministic for a given seed."""

import glob
import gzip
import os
import random

FALLBACK = ("The quick brown fox jumps over the lazy dog. Please find attached the minutes of"
            " yesterday's meeting; the next one is on Thursday at ten in the small room. Could you"
            " send me the figures for the third quarter before Friday? Thanks, and best regards.")


# Packages every Debian 12 system (and this project's machines) has: a
# fixed list, so that the corpus does not change with what else is
# installed.
PACKAGES = ("bash", "coreutils", "debianutils", "diffutils", "findutils", "grep", "gzip", "libc6",
            "libsqlite3-0", "login", "ncurses-bin", "openssl", "perl-base", "sed", "sysvinit-utils", "tar",
            "util-linux", "zlib1g")


def paragraphs():
    """Paragraphs of prose from the system's documentation."""
    out, seen = [], set()
    files = ["/usr/share/doc/%s/changelog.Debian.gz" % p for p in PACKAGES]
    for f in files:
        if os.path.realpath(f) in seen:
            continue
        seen.add(os.path.realpath(f))
        try:
            with gzip.open(f, "rt", errors="replace") as fh:
                text = fh.read()
        except OSError:
            continue
        for p in text.split("\n\n"):
            p = p.strip()
            if 80 < len(p) < 1500 and not p.startswith(" -- "):
                out.append(p)
    for f in sorted(glob.glob("/usr/share/common-licenses/*")):
        if os.path.islink(f):
            continue
        try:
            with open(f, errors="replace") as fh:
                text = fh.read()
        except OSError:
            continue
        out += [p.strip() for p in text.split("\n\n") if 80 < len(p.strip()) < 1500]
    return out or [FALLBACK]


def _qp(text):
    out = []
    for line in text.split("\n"):
        enc = "".join(c if 32 <= ord(c) < 127 and c != "=" else "".join("=%02X" % b for b in c.encode())
                      for c in line)
        while len(enc) > 75:
            cut = 75
            while enc[cut - 3:cut].find("=") >= 0 and cut > 70:
                cut -= 1
            out.append(enc[:cut] + "=")
            enc = enc[cut:]
        out.append(enc)
    return "\r\n".join(out)


def messages(n, seed=1, to="alice@example.test"):
    """n messages (bytes, CRLF line ends)."""
    rnd = random.Random(seed)
    paras = paragraphs()
    names = ["Alice Martin", "Bob Chen", "Carla Rossi", "Dmitri Ivanov", "Emma Schulz", "Farid Haddad",
             "Grace O'Neil", "Hiro Tanaka", "Ines Duarte", "Jonas Berg"]
    out = []
    for i in range(n):
        target = rnd.choice((600, 1200, 2000, 3000, 5000, 9000))
        body, size = [], 0
        while size < target:
            p = rnd.choice(paras)
            body.append(p)
            size += len(p)
        text = "\n\n".join(body)
        sender = rnd.choice(names)
        addr = sender.split()[0].lower() + "@example.net"
        subject = rnd.choice(paras)[:rnd.randint(20, 70)].replace("\n", " ").strip()
        host = "mx%d.example.net" % rnd.randint(1, 40)
        qid = "%012X" % rnd.getrandbits(48)
        mid = "<%016x.%d@%s>" % (rnd.getrandbits(64), i, "example.net")
        date = "Mon, %d Nov 2026 %02d:%02d:%02d +0000" % (1 + i % 28, i % 24, i % 60, (i * 7) % 60)
        sig = "".join(rnd.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
                      for _ in range(344))
        head = [
            "Received: from %s (%s [198.51.100.%d])\r\n\tby mail.example.test (Tern) with ESMTPS id %s\r\n"
            "\tfor <%s>; %s" % (host, host, rnd.randint(1, 254), qid, to, date),
            "Received: from [10.0.%d.%d] (unknown [203.0.113.%d])\r\n\tby %s with ESMTPSA id %s;\r\n\t%s"
            % (rnd.randint(0, 9), rnd.randint(1, 254), rnd.randint(1, 254), host,
               "%010x" % rnd.getrandbits(40), date),
            "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.net; s=mail;\r\n"
            "\th=from:to:subject:date:message-id; bh=%s=;\r\n\tb=%s" % (sig[:43], sig),
            "From: %s <%s>" % (sender, addr),
            "To: %s" % to,
            "Subject: %s" % subject,
            "Date: %s" % date,
            "Message-ID: %s" % mid,
            "MIME-Version: 1.0",
        ]
        kind = i % 3
        if kind == 0:
            head.append("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit")
            payload = text.replace("\n", "\r\n")
        elif kind == 1:
            head.append("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable")
            payload = _qp(text)
        else:
            b = "b%016x" % rnd.getrandbits(64)
            html = "<html><body>" + "".join("<p>%s</p>\n" % p.replace("&", "&amp;").replace("<", "&lt;")
                                            for p in body) + "</body></html>"
            head.append('Content-Type: multipart/alternative; boundary="%s"' % b)
            payload = ("--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: "
                       "quoted-printable\r\n\r\n%s\r\n--%s\r\nContent-Type: text/html; charset=utf-8\r\n"
                       "Content-Transfer-Encoding: quoted-printable\r\n\r\n%s\r\n--%s--"
                       % (b, _qp(text), b, _qp(html), b))
        out.append(("\r\n".join(head) + "\r\n\r\n" + payload + "\r\n").encode("utf-8"))
    return out
