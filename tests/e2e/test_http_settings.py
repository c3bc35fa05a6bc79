"""The users' settings page (issue 12): sign in with a password or an app
password, read one's own server names, ports and encryption, create an
app password (shown once) and log in with it over IMAP, revoke it; the
CSRF token, the cookie's attributes, the security headers, sign-out and
session rotation, and the brute-force defence counting bad sign-ins.

Raw HTTPS (http.client, with HTML read by html.parser) covers every rule;
browser_* cases drive Debian's chromium (headless, through
python3-selenium and chromium-driver) through the same steps as a user
would, and save a screenshot in $TERN_ARTIFACTS (default
build/artifacts).  Without chromium or selenium they say why in a "# SKIP"
line and pass."""

import html.parser
import http.client
import imaplib
import os
import poplib
import re
import shutil
import ssl
import subprocess
import time
import urllib.parse

from harness import PASSWORD, ROOT, Raw, Server, Suite, certificate, client_tls, stop_and_check

suite = Suite()
HOST = "mail.example.test"
ALICE = "alice@example.test"
COOKIE = "__Host-tern"


class Form(html.parser.HTMLParser):
    """The forms of a page: [{action, fields{name: value}}], and labels,
    ids and text for the accessibility checks."""

    def __init__(self, text):
        super().__init__()
        self.forms, self.labels_for, self.ids, self.inputs = [], set(), {}, []
        self.lang = None
        self.headings = []
        self._heading = None
        self._id_stack = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        if tag == "form":
            self.forms.append({"action": a.get("action"), "method": a.get("method"), "fields": {}})
        if tag == "input" and self.forms:
            if a.get("type") != "checkbox" or "checked" in a:
                self.forms[-1]["fields"][a.get("name")] = a.get("value", "")
        if tag == "input" and a.get("type") != "hidden":
            self.inputs.append(a)
        if tag == "label" and "for" in a:
            self.labels_for.add(a["for"])
        if tag in ("h1", "h2", "h3"):
            self._heading = [tag, ""]
        self._id_stack.append((tag, a.get("id")))
        if a.get("id"):
            self.ids[a["id"]] = ""

    def handle_endtag(self, tag):
        if tag in ("h1", "h2", "h3") and self._heading:
            self.headings.append(tuple(self._heading))
            self._heading = None
        while self._id_stack:
            t, _ = self._id_stack.pop()
            if t == tag:
                break

    def handle_data(self, data):
        if self._heading:
            self._heading[1] += data
        for _, i in self._id_stack:
            if i:
                self.ids[i] += data

    def form(self, action):
        for f in self.forms:
            if f["action"] == action:
                return f
        raise AssertionError("no form for %s" % action)

    def text(self, id_):
        return " ".join(self.ids[id_].split())


class Browser:
    """A cookie-keeping HTTPS client, one connection kept alive."""

    def __init__(self, srv):
        self.srv = srv
        self.cookies = {}
        self.conn = None
        self.last_set_cookie = []

    def request(self, method, path, form=None, headers=None):
        if self.conn is None:
            self.conn = http.client.HTTPSConnection("localhost", self.srv.port("https"), context=client_tls(),
                                                    timeout=60)
        h = {"Host": "%s:%d" % (HOST, self.srv.port("https"))}
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            h["Content-Type"] = "application/x-www-form-urlencoded"
        h.update(headers or {})
        self.conn.request(method, path, body=body, headers=h)
        r = self.conn.getresponse()
        data = r.read().decode()
        self.last_set_cookie = r.headers.get_all("Set-Cookie") or []
        for sc in self.last_set_cookie:
            name, _, rest = sc.partition("=")
            value = rest.split(";", 1)[0]
            if "Max-Age=0" in sc:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        if r.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        return r, data

    def sign_in(self, address=ALICE, password=PASSWORD):
        r, page = self.request("GET", "/settings")
        assert r.status == 200, (r.status, page)
        csrf = Form(page).form("/settings/login")["fields"]["csrf"]
        return self.request("POST", "/settings/login", {"csrf": csrf, "address": address, "password": password})

    def settings(self):
        r, page = self.request("GET", "/settings")
        assert r.status == 200, (r.status, page)
        return Form(page)

    def close(self):
        if self.conn is not None:
            self.conn.close()


def setup():
    # block after 4 failures (no extra growing delay: every failure
    # still waits 1.5 s); clients are told a name other than the
    # [server] hostname, which the page shows as the internal one
    srv = Server(extra="[bruteforce]\ndelay_after = 0\nblock_after = 4\n"
                       "[server]\nexternal_hostname = mail.example.net\n")
    srv.add_user(ALICE)
    srv.add_user("bob@example.test")
    return srv.start()


def check_security_headers(r, page_kind="page"):
    assert r.getheader("Cache-Control") == "no-store", r.headers
    csp = r.getheader("Content-Security-Policy")
    assert csp is not None, r.headers
    directives = dict((d.strip().split(" ", 1) + [""])[:2] for d in csp.split(";"))
    assert directives["default-src"] == "'none'", csp
    assert directives["frame-ancestors"] == "'none'", csp
    assert directives["form-action"] == "'self'", csp
    assert "script-src" not in directives, csp      # no script at all: default-src 'none'
    assert r.getheader("X-Content-Type-Options") == "nosniff"


def check_cookie(set_cookie):
    """RFC 6265 attributes the issue asks for."""
    parts = [p.strip() for p in set_cookie.split(";")]
    name, _, value = parts[0].partition("=")
    attrs = {p.split("=", 1)[0].lower(): (p.split("=", 1) + [None])[1] for p in parts[1:]}
    assert name == COOKIE, set_cookie
    assert "secure" in attrs and "httponly" in attrs, set_cookie
    assert attrs.get("samesite") == "Strict", set_cookie
    assert attrs.get("path") == "/", set_cookie
    assert "domain" not in attrs, set_cookie
    return value


def imap_login(srv, user, password):
    """True if an IMAP login over implicit TLS succeeds; False if refused
    (or the address is refused at connect: the error says so)."""
    ctx = ssl.create_default_context(cafile=certificate()[0])
    try:
        m = imaplib.IMAP4_SSL("localhost", srv.port("imaps"), ssl_context=ctx, timeout=30)
    except imaplib.IMAP4.error as e:
        imap_login.refused = str(e)
        return False
    with m:
        try:
            m.login(user, password)
        except imaplib.IMAP4.error:
            return False
        m.logout()
        return True


@suite.case
def sign_in_form_and_headers(srv):
    b = Browser(srv)
    r, page = b.request("GET", "/settings")
    assert r.status == 200, page
    assert r.getheader("Content-Type") == "text/html; charset=utf-8"
    check_security_headers(r)
    check_cookie(b.last_set_cookie[0])
    f = Form(page)
    assert f.lang == "en"
    assert ("h1", "Mail settings") in f.headings, f.headings
    login = f.form("/settings/login")
    assert login["method"] == "post"
    assert re.fullmatch(r"[0-9a-f]{64}", login["fields"]["csrf"]), login
    # every visible input has a label
    for i in f.inputs:
        assert i.get("id") in f.labels_for, i
    # the stylesheet is the page's own file (CSP style-src 'self'), served without a session
    r, css = b.request("GET", "/settings/style.css")
    assert r.status == 200 and r.getheader("Content-Type").startswith("text/css") and "body{" in css
    b.close()


@suite.case
def sign_in_reads_own_settings(srv):
    srv.cli("user", "set", ALICE, "--pop3", "off", "--quota", "10M")
    b = Browser(srv)
    r, _ = b.request("GET", "/settings")
    anon = b.cookies[COOKIE]
    r, body = b.sign_in()
    assert r.status == 303 and r.getheader("Location") == "/settings", (r.status, body)
    check_security_headers(r)
    new = check_cookie(b.last_set_cookie[0])
    assert new != anon and re.fullmatch(r"[0-9a-f]{64}", new), "the session id must change at sign-in"
    f = b.settings()
    assert f.text("user") == ALICE
    assert f.text("imap-status") == "on" and f.text("smtp-status") == "on"
    assert f.text("pop3-status").startswith("off"), f.text("pop3-status")
    # the ports this server really listens on, external name first, then the internal one
    want = {"imap": [("imaps", "SSL/TLS"), ("imap", "STARTTLS")], "pop3": [("pop3s", "SSL/TLS"), ("pop3", "STARTTLS")],
            "smtp": [("submissions", "SSL/TLS"), ("submission", "STARTTLS")]}
    for proto, services in want.items():
        rows = [r.split() for r in re.findall(r"<tr><td>(.*?)</tr>", table_html(b, proto))]
        expect = []
        for svc, enc in services:
            expect.append(["mail.example.net</td><td>%d</td><td>%s</td><td>from" % (srv.port(svc), enc), "anywhere</td>"])
            expect.append(["%s</td><td>%d</td><td>%s</td><td>inside" % (HOST, srv.port(svc), enc), "the", "network</td>"])
        assert rows == expect, (proto, rows, expect)
    assert "no limit" not in f.text("quota") and "of 10.0 MB" in f.text("quota"), f.text("quota")
    assert f.text("no-app-passwords") == "You have no app passwords."
    _, page = b.request("GET", "/settings")
    assert ('href="/apple.mobileconfig?emailaddress=alice%40example.test"') in page
    # bob's session sees bob, not alice
    b2 = Browser(srv)
    b2.sign_in("bob@example.test")
    assert b2.settings().text("user") == "bob@example.test"
    b.close()
    b2.close()
    # a password is never written to the log
    with open(srv.log_path, "rb") as log:
        assert PASSWORD.encode() not in log.read()


def table_html(b, proto):
    _, page = b.request("GET", "/settings")
    m = re.search(r'<table id="%s-servers">(.*?)</table>' % proto, page, re.S)
    assert m, page
    return m.group(1)


@suite.case
def app_password_create_use_revoke(srv):
    b = Browser(srv)
    b.sign_in()
    f = b.settings()
    create = f.form("/settings/app-passwords")
    fields = dict(create["fields"], name="phone")
    fields.pop("pop3")          # IMAP and SMTP only
    r, page = b.request("POST", "/settings/app-passwords", fields)
    assert r.status == 200, page
    check_security_headers(r)
    shown = Form(page).text("new-password")
    assert re.fullmatch(r"[a-z]{4} [a-z]{4} [a-z]{4} [a-z]{4}", shown), shown
    # shown once: the next view of the page does not have it
    _, again = b.request("GET", "/settings")
    assert shown not in again and "new-password" not in again
    assert re.search(r"<td>phone</td><td>IMAP, SMTP</td>", again), again
    # it works over IMAP, without spaces and in capitals too (directory_app_password_normalise)
    assert imap_login(srv, ALICE, shown)
    assert imap_login(srv, ALICE, shown.replace(" ", "").upper())
    out = srv.cli("user", "app-password", "list", ALICE).stdout
    assert re.search(r"^phone\s+imap,submission\s", out, re.M), out
    # not for POP3
    p = poplib.POP3_SSL("localhost", srv.port("pop3s"), context=client_tls(), timeout=30)
    try:
        p.user(ALICE)
        try:
            p.pass_(shown)
            raise AssertionError("POP3 accepted an IMAP/SMTP app password")
        except poplib.error_proto:
            pass
    finally:
        p.close()
    # the same name twice: refused with a message, nothing shown
    r, page = b.request("POST", "/settings/app-passwords", fields)
    assert r.status == 200 and "No app password was created" in page and "new-password" not in page
    # revoke it: IMAP refuses it from then on
    revoke = Form(again).form("/settings/app-passwords/revoke")
    r, page = b.request("POST", "/settings/app-passwords/revoke", revoke["fields"])
    assert r.status == 200 and "revoked" in page, page
    assert not imap_login(srv, ALICE, shown)
    assert "no app passwords" in srv.cli("user", "app-password", "list", ALICE).stdout
    b.close()
    with open(srv.log_path, "rb") as log:
        text = log.read()
        assert shown.encode() not in text and shown.replace(" ", "").encode() not in text


@suite.case
def app_password_sign_in_cannot_mint(srv):
    out = srv.cli("user", "app-password", "add", ALICE, "mua", "--protocols", "imap").stdout
    apw = re.search(r"password: (.*)", out).group(1)
    b = Browser(srv)
    r, _ = b.sign_in(password=apw)
    assert r.status == 303
    f = b.settings()
    assert f.text("user") == ALICE
    assert not [x for x in f.forms if x["action"] == "/settings/app-passwords"]
    r, page = b.request("POST", "/settings/app-passwords", {"csrf": f.form("/settings/logout")["fields"]["csrf"],
                                                          "name": "more", "imap": "on"})
    assert r.status == 403, page
    assert "more" not in srv.cli("user", "app-password", "list", ALICE).stdout
    b.close()


@suite.case
def csrf_is_checked_on_every_post(srv):
    b = Browser(srv)
    b.sign_in()
    good = b.settings().form("/settings/app-passwords")["fields"]
    for fields in (dict(good, csrf="0" * 64, name="evil"), dict({k: v for k, v in good.items() if k != "csrf"},
                                                                name="evil")):
        r, page = b.request("POST", "/settings/app-passwords", fields)
        assert r.status == 403, (r.status, page)
        check_security_headers(r)
    # another session's token does not do either
    other = Browser(srv)
    other.sign_in("bob@example.test")
    r, _ = b.request("POST", "/settings/app-passwords",
                     dict(good, csrf=other.settings().form("/settings/logout")["fields"]["csrf"], name="evil"))
    assert r.status == 403
    # nor does a form with the right token but no session (a cross-site request has no cookie: SameSite=Strict)
    anon = Browser(srv)
    r, page = anon.request("POST", "/settings/app-passwords", dict(good, name="evil"))
    assert r.status == 403, page
    # nor a sign-in without its form's token
    r, page = anon.request("POST", "/settings/login", {"address": ALICE, "password": PASSWORD})
    assert r.status == 403, page
    assert "expired" in page
    # a form of another type is refused
    r, _ = b.request("POST", "/settings/app-passwords", headers={"Content-Type": "application/json"})
    assert r.status == 415
    assert "evil" not in srv.cli("user", "app-password", "list", ALICE).stdout
    # the good token still works: the session survived
    r, page = b.request("POST", "/settings/app-passwords", dict(good, name="good"))
    assert r.status == 200 and "new-password" in page
    for x in (b, other, anon):
        x.close()


@suite.case
def sign_out_ends_the_session(srv):
    b = Browser(srv)
    b.sign_in()
    sid = b.cookies[COOKIE]
    csrf = b.settings().form("/settings/logout")["fields"]["csrf"]
    r, _ = b.request("POST", "/settings/logout", {"csrf": csrf})
    assert r.status == 303
    assert any("Max-Age=0" in c for c in b.last_set_cookie), b.last_set_cookie
    # the old id no longer opens the page, even if a client kept it
    b.cookies[COOKIE] = sid
    r, page = b.request("GET", "/settings")
    assert r.status == 200 and 'action="/settings/login"' in page and ALICE not in page
    b.close()


@suite.case
def disabling_the_account_ends_its_sessions(srv):
    b = Browser(srv)
    b.sign_in()
    assert b.settings().text("user") == ALICE
    srv.cli("user", "set", ALICE, "--disabled")
    r, _ = b.request("GET", "/settings")
    assert r.status == 303 and any("Max-Age=0" in c for c in b.last_set_cookie), (r.status, b.last_set_cookie)
    r, page = b.request("GET", "/settings")
    assert 'action="/settings/login"' in page and ALICE not in page
    r, page = b.sign_in()
    assert r.status == 403 and Form(page).text("error") == "This account is disabled."
    b.close()


@suite.case
def bad_passwords_are_penalised(srv):
    b = Browser(srv)
    t0 = time.time()
    for i in range(4):
        r, page = b.sign_in(password="wrong %d" % i)
        assert r.status == 403, (i, r.status)
        assert Form(page).text("error") == "Wrong email address or password."
    # every failure waits (AUTH_FAIL_DELAY_MS, 1.5 s) before its answer
    assert time.time() - t0 >= 4 * 1.4, time.time() - t0
    # block_after = 4: the address is blocked, even for the right password
    r, page = b.sign_in()
    assert r.status == 429, (r.status, page)
    assert "Too many failed sign-ins" in page and r.getheader("Retry-After")
    assert COOKIE not in [c.split("=")[0] for c in b.last_set_cookie]
    # counted in /metrics (read from loopback: [http] metrics_allow)
    r, text = b.request("GET", "/metrics")
    assert r.status == 200
    assert 'tern_logins_total{service="settings",result="fail"} 5' in text.splitlines(), text
    assert 'tern_logins_total{service="settings",result="ok"} 0' in text.splitlines(), text
    # the same box as IMAP's: IMAP from here is refused too
    assert not imap_login(srv, ALICE, PASSWORD)
    assert "Too many failed logins" in imap_login.refused, imap_login.refused
    out = srv.cli("auth", "blocked").stdout
    assert "127.0.0.1" in out, out
    b.close()


@suite.case
def only_over_https(srv):
    c = http.client.HTTPConnection("127.0.0.1", srv.port("http"), timeout=30)
    for path in ("/settings", "/settings/login"):
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        assert r.status == 301 and r.getheader("Location") == "https://mail.example.net:%d%s" % (
            srv.port("https"), path), (r.status, r.headers)
        assert r.getheader("Set-Cookie") is None
    c.close()
    # a method the page has not: 405; an unknown page: 404; keep-alive goes on after a worker's reply
    b = Browser(srv)
    r, _ = b.request("DELETE", "/settings")
    assert r.status == 405
    r, _ = b.request("GET", "/settings/nothing")
    assert r.status == 404
    r, _ = b.request("GET", "/settings/login")
    assert r.status == 405 and r.getheader("Allow") == "POST"
    sock = b.conn.sock
    r, _ = b.request("GET", "/healthz")
    assert r.status == 200 and b.conn.sock is sock
    b.close()


@suite.case
def pipelined_requests_wait_for_a_delayed_reply(srv):
    """A failed sign-in's reply waits out its delay on a loop timer; a
    request pipelined behind it is answered after it, in order."""
    b = Browser(srv)
    r, page = b.request("GET", "/settings")
    csrf = Form(page).form("/settings/login")["fields"]["csrf"]
    body = urllib.parse.urlencode({"csrf": csrf, "address": ALICE, "password": "wrong"})
    raw = Raw(srv.port("https"), tls=True, timeout=30)
    t0 = time.time()
    raw.send("POST /settings/login HTTP/1.1\r\nHost: x\r\nCookie: %s=%s\r\n"
             "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s"
             "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
             % (COOKIE, b.cookies[COOKIE], len(body), body))
    assert raw.closed(30)
    first, second = raw.buf.split(b"HTTP/1.1 ")[1:3]
    assert first.startswith(b"403 ") and b"Wrong email address or password." in first, first[:300]
    assert second.startswith(b"200 ") and second.endswith(b"\r\n\r\nok\n"), second
    assert time.time() - t0 >= 1.4, "the failure was answered before its delay"
    raw.close()
    b.close()


# ---- the same in a real browser ----

def chromium_missing():
    if shutil.which("chromium") is None or shutil.which("chromedriver") is None:
        return "chromium or chromium-driver is not installed (scripts/deps.sh installs them)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "python3-selenium is not installed (scripts/deps.sh installs it)"
    return None


def spki_hash():
    """The certificate's key hash, for --ignore-certificate-errors-spki-list:
    chromium trusts this one test certificate and nothing else."""
    pub = subprocess.run(["openssl", "x509", "-in", certificate()[0], "-pubkey", "-noout"], capture_output=True,
                         check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub, capture_output=True,
                         check=True).stdout
    dgst = subprocess.run(["openssl", "dgst", "-sha256", "-binary"], input=der, capture_output=True,
                          check=True).stdout
    return subprocess.run(["openssl", "base64"], input=dgst, capture_output=True, check=True).stdout.decode().strip()


def chromium(srv):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1000,1400",
              "--host-resolver-rules=MAP %s 127.0.0.1, MAP mail.example.net 127.0.0.1" % HOST,
              "--ignore-certificate-errors-spki-list=" + spki_hash(), "--user-data-dir=" + os.path.join(srv.dir, "chrome")):
        opts.add_argument(a)
    drv = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    # a click returns once the form is sent; the next page comes after
    # the worker has checked the password: find_element waits for it
    drv.implicitly_wait(20)
    return drv


CONTRAST_JS = """
function lum(c) {
  var m = c.match(/[0-9.]+/g).map(Number);
  var v = m.slice(0, 3).map(function (x) { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
  return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
}
function bg(el) {
  for (; el; el = el.parentElement) {
    var b = getComputedStyle(el).backgroundColor;
    if (b && b !== 'rgba(0, 0, 0, 0)' && b !== 'transparent') return b;
  }
  return 'rgb(255, 255, 255)';
}
var out = [];
document.querySelectorAll(arguments[0]).forEach(function (el) {
  var a = lum(getComputedStyle(el).color), b = lum(bg(el));
  out.push([el.tagName + (el.className ? '.' + el.className : ''), (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)]);
});
return out;
"""


def check_contrast(drv, selector):
    """WCAG 2.1 1.4.3: text contrast at least 4.5:1 (computed by the
    browser from the styles it applied)."""
    ratios = drv.execute_script(CONTRAST_JS, selector)
    assert ratios, selector
    for what, ratio in ratios:
        assert ratio >= 4.5, (what, ratio)


def artifacts():
    d = os.environ.get("TERN_ARTIFACTS", os.path.join(ROOT, "build", "artifacts"))
    os.makedirs(d, exist_ok=True)
    return d


@suite.case
def browser_sign_in_create_use_revoke(srv):
    why = chromium_missing()
    if why:
        print("# SKIP browser:", why)
        return
    from selenium.webdriver.common.by import By

    drv = chromium(srv)
    try:
        base = "https://mail.example.net:%d" % srv.port("https")
        drv.get(base + "/settings")
        assert drv.title == "Sign in: mail settings", drv.title
        drv.find_element(By.ID, "address").send_keys(ALICE)
        drv.find_element(By.ID, "password").send_keys(PASSWORD)
        drv.find_element(By.CSS_SELECTOR, "form[action='/settings/login'] button").click()
        assert drv.find_element(By.ID, "user").text == ALICE, drv.page_source
        # the cookie as the browser stored it
        c = drv.get_cookie(COOKIE)
        assert c is not None and c["secure"] and c["httpOnly"] and c["sameSite"] == "Strict", c
        assert drv.execute_script("return document.cookie") == "", "HttpOnly: not visible to scripts"
        # the settings, as a user reads them (the page's text, not its markup)
        imap_rows = [r.text for r in drv.find_elements(By.CSS_SELECTOR, "#imap-servers tbody tr")]
        assert imap_rows[0] == "mail.example.net %d SSL/TLS from anywhere" % srv.port("imaps"), imap_rows
        assert imap_rows[1] == "%s %d SSL/TLS inside the network" % (HOST, srv.port("imaps")), imap_rows
        smtp_rows = [r.text for r in drv.find_elements(By.CSS_SELECTOR, "#smtp-servers tbody tr")]
        assert "mail.example.net %d STARTTLS from anywhere" % srv.port("submission") in smtp_rows, smtp_rows
        assert drv.find_element(By.ID, "pop3-status").text == "on"
        assert "no limit" in drv.find_element(By.ID, "quota").text
        # the stylesheet loaded under the CSP: the button is styled
        bg = drv.find_element(By.CSS_SELECTOR, "form[action='/settings/app-passwords'] button").value_of_css_property(
            "background-color")
        assert bg in ("rgba(26, 79, 139, 1)", "rgb(26, 79, 139)"), bg
        check_contrast(drv, "h1, h2, p, th, td, label, legend, button, a, strong")
        # create an app password for IMAP only
        drv.find_element(By.ID, "apw-name").send_keys("laptop")
        for box in ("apw-pop3", "apw-smtp"):
            drv.find_element(By.ID, box).click()
        drv.find_element(By.CSS_SELECTOR, "form[action='/settings/app-passwords'] button").click()
        shown = drv.find_element(By.ID, "new-password").text
        assert re.fullmatch(r"[a-z]{4} [a-z]{4} [a-z]{4} [a-z]{4}", shown), shown
        drv.save_screenshot(os.path.join(artifacts(), "settings-page.png"))
        assert imap_login(srv, ALICE, shown)
        # revoke it with its button
        drv.get(base + "/settings")
        assert "laptop" in drv.find_element(By.ID, "app-password-list").text
        drv.find_element(By.CSS_SELECTOR, "button[aria-label='Revoke laptop']").click()
        assert "revoked" in drv.find_element(By.CSS_SELECTOR, "[role=status]").text
        assert not imap_login(srv, ALICE, shown)
        # sign out: back to the form
        drv.find_element(By.CSS_SELECTOR, "form[action='/settings/logout'] button").click()
        assert drv.find_element(By.ID, "password") is not None
        assert drv.get_cookie(COOKIE) is None or drv.get_cookie(COOKIE)["value"] != c["value"]
    finally:
        drv.quit()


@suite.case
def browser_bad_passwords_penalised(srv):
    why = chromium_missing()
    if why:
        print("# SKIP browser:", why)
        return
    from selenium.webdriver.common.by import By

    drv = chromium(srv)
    try:
        base = "https://mail.example.net:%d" % srv.port("https")
        for i in range(4):
            drv.get(base + "/settings")
            drv.find_element(By.ID, "address").send_keys(ALICE)
            drv.find_element(By.ID, "password").send_keys("wrong %d" % i)
            drv.find_element(By.CSS_SELECTOR, "form[action='/settings/login'] button").click()
            assert drv.find_element(By.ID, "error").text == "Wrong email address or password."
            check_contrast(drv, "h1, p, label, button")
        drv.get(base + "/settings")
        drv.find_element(By.ID, "address").send_keys(ALICE)
        drv.find_element(By.ID, "password").send_keys(PASSWORD)
        drv.find_element(By.CSS_SELECTOR, "form[action='/settings/login'] button").click()
        assert "Too many failed sign-ins" in drv.find_element(By.ID, "error").text
        drv.save_screenshot(os.path.join(artifacts(), "settings-blocked.png"))
    finally:
        drv.quit()


suite.run(setup, stop_and_check)
