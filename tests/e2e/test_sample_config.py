"""The sample configuration etc/tern.conf (installed as
/etc/tern/tern.conf.sample) stays in step with the parser and with
docs/CONFIG.md: it parses as shipped (every key commented out), it parses
with every key uncommented, each uncommented value is the default the
parser uses, and it names exactly the keys `tern config check` prints and
docs/CONFIG.md documents."""

import os
import re
import subprocess
import tempfile

from harness import ROOT, TERN, Suite, certificate

SAMPLE = os.path.join(ROOT, "etc", "tern.conf")
DOC = os.path.join(ROOT, "docs", "CONFIG.md")
KEY_LINE = re.compile(r"^#([a-z0-9_]+) = ?(.*)$")
# Keys whose default depends on the machine or which have none: the sample
# shows an example value instead (and says so).
EXAMPLES = {("server", "hostname"), ("server", "threads"), ("tls", "cert"), ("tls", "key"),
            ("listen", "smtp"), ("listen", "submission"), ("listen", "submissions"),
            ("listen", "pop3"), ("listen", "pop3s"), ("listen", "imap"), ("listen", "imaps"),
            ("listen", "http"), ("listen", "https")}

suite = Suite()


def check(path):
    r = subprocess.run([TERN, "config", "check", "--config", path], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout


def sections(text, key_re):
    """{(section, key): value} of the lines key_re matches."""
    out, section = {}, None
    for line in text.splitlines():
        m = re.match(r"^\[([a-z]+)\]", line)
        if m:
            section = m.group(1)
            continue
        m = key_re.match(line)
        if m and section:
            out[(section, m.group(1))] = m.group(2).strip()
    return out


def sample_keys():
    with open(SAMPLE) as f:
        return sections(f.read(), KEY_LINE)


def uncommented():
    cert, key = certificate()
    with open(SAMPLE) as f:
        lines = []
        for line in f.read().splitlines():
            m = KEY_LINE.match(line)
            if m:
                line = line[1:]
                if m.group(1) == "cert":
                    line = "cert = " + cert
                elif m.group(1) == "key":
                    line = "key = " + key
            lines.append(line)
    fd, path = tempfile.mkstemp(prefix="tern-sample-", suffix=".conf")
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def seconds(v):
    m = re.fullmatch(r"(\d+)([smhd]?)", v)
    return int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)] if m else v


@suite.case
def parses_as_shipped(_):
    check(SAMPLE)


@suite.case
def every_key_uncommented_parses_with_its_default(_):
    path = uncommented()
    try:
        effective = sections(check(path), re.compile(r"^([a-z0-9_]+) = ?(.*)$"))
    finally:
        os.unlink(path)
    sample = sample_keys()
    assert set(sample) == set(effective), (
        "only in the sample: %s; only in config check: %s"
        % (sorted(set(sample) - set(effective)), sorted(set(effective) - set(sample))))
    for k, v in sample.items():
        if k in EXAMPLES:
            continue
        assert seconds(v) == seconds(effective[k]), "%s: sample %r, parser default %r" % (k, v, effective[k])


@suite.case
def names_every_key_of_config_md(_):
    with open(DOC) as f:
        doc = f.read()
    documented, heads = set(), []
    for line in doc.splitlines():
        if line.startswith("## "):
            heads = re.findall(r"\[([a-z]+)\]", line)
            continue
        m = re.match(r"^\| ((?:`[a-z0-9_]+`(?:, )?)+) \|", line)
        if m and heads:
            for key in re.findall(r"`([a-z0-9_]+)`", m.group(1)):
                for h in heads:
                    documented.add((h, key))
    sample = set(sample_keys())
    assert documented == sample, (
        "only in docs/CONFIG.md: %s; only in the sample: %s"
        % (sorted(documented - sample), sorted(sample - documented)))


@suite.case
def man_page_lists_every_key(_):
    with open(os.path.join(ROOT, "man", "tern.conf.5")) as f:
        text = f.read()
    listed, section = set(), None
    for line in text.splitlines():
        m = re.match(r"^\.Ss \[([a-z]+)\]", line)
        if m:
            section = m.group(1)
        m = re.match(r"^\.It Ic ([a-z0-9_]+) ", line)
        if m and section:
            listed.add((section, m.group(1)))
    sample = set(sample_keys())
    assert listed == sample, "only in tern.conf.5: %s; only in the sample: %s" % (
        sorted(listed - sample), sorted(sample - listed))


@suite.case
def man_pages_pass_mandoc_lint(_):
    import shutil
    if shutil.which("mandoc") is None:
        print("# skip: mandoc is not installed (scripts/deps.sh installs it)")
        return
    r = subprocess.run(["mandoc", "-T", "lint", "-W", "warning",
                        os.path.join(ROOT, "man", "tern.8"), os.path.join(ROOT, "man", "tern.conf.5")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


suite.run(lambda: None, lambda _: None)
