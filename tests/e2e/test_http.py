"""HTTP and HTTPS (issue 12, first part): what mail clients fetch to
configure themselves.  Each document is fetched with curl and with
Python's urllib/http.client, parsed with xml.etree or json, and checked
field by field against the ports this test server really listens on;
then keep-alive, HEAD, the redirect from plain HTTP, the request limits
(400, 405, 411, 413, 414, 431, 501) and a switched-off service that
disappears from every document."""

import http.client
import json
import subprocess
import time
import urllib.request
import xml.etree.ElementTree as ET

from harness import Raw, Server, Suite, certificate, client_tls, stop_and_check

suite = Suite()
HOST = "mail.example.test"
ADDR = "alice@example.test"
AUTOCONFIG = "/.well-known/autoconfig/mail/config-v1.1.xml"
AD_XML = "/autodiscover/autodiscover.xml"
AD_NS = "{http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006}"
OL_NS = "{http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a}"
AD_REQUEST = """<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>%s</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>
"""


def curl(srv, url, *args):
    """curl against HOST resolved to 127.0.0.1 on the test ports; returns
    (status, headers text, body bytes)."""
    resolve = []
    for s in ("http", "https"):
        resolve += ["--resolve", "%s:%d:127.0.0.1" % (HOST, srv.port(s))]
    r = subprocess.run(["curl", "-sS", "--max-time", "20", "--cacert", certificate()[0], "-D", "-"] + resolve +
                       list(args) + [url], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    # 100 Continue, and with -L the redirect: the last response counts
    while head.startswith(b"HTTP/1.1 100") or ("-L" in args and body.startswith(b"HTTP/1.1 ")):
        head, _, body = body.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, head.decode(), body


def https_url(srv, path):
    return "https://%s:%d%s" % (HOST, srv.port("https"), path)


def http_url(srv, path):
    return "http://%s:%d%s" % (HOST, srv.port("http"), path)


def expected_servers(srv, off=()):
    """(protocol, port, SSL?) the documents must list, in order."""
    want = []
    for proto, ssl_svc, plain_svc in (("imap", "imaps", "imap"), ("pop3", "pop3s", "pop3"),
                                      ("smtp", "submissions", "submission")):
        if proto in off:
            continue
        want.append((proto, srv.port(ssl_svc), True))
        want.append((proto, srv.port(plain_svc), False))
    return want


def check_autoconfig(srv, body, domain="example.test", off=()):
    root = ET.fromstring(body)
    assert root.tag == "clientConfig" and root.get("version") == "1.1", root.tag
    prov = root.find("emailProvider")
    assert prov.get("id") == domain, prov.get("id")
    assert prov.findtext("domain") == domain
    assert prov.findtext("displayName") and prov.findtext("displayShortName")
    got = []
    for el in list(prov):
        if el.tag not in ("incomingServer", "outgoingServer"):
            continue
        typ = el.get("type")
        assert (el.tag == "outgoingServer") == (typ == "smtp"), (el.tag, typ)
        assert el.findtext("hostname") == HOST
        assert el.findtext("username") == "%EMAILADDRESS%"
        assert [a.text for a in el.findall("authentication")] == ["password-cleartext"]
        sock = el.findtext("socketType")
        assert sock in ("SSL", "STARTTLS"), sock
        got.append((typ, int(el.findtext("port")), sock == "SSL"))
    assert got == expected_servers(srv, off), (got, expected_servers(srv, off))


def check_autodiscover(srv, body, login=ADDR, off=()):
    root = ET.fromstring(body)
    assert root.tag == AD_NS + "Autodiscover", root.tag
    acct = root.find(OL_NS + "Response/" + OL_NS + "Account")
    assert acct.findtext(OL_NS + "AccountType") == "email"
    assert acct.findtext(OL_NS + "Action") == "settings"
    got = []
    for p in acct.findall(OL_NS + "Protocol"):
        f = {c.tag[len(OL_NS):]: c.text for c in p}
        assert f["Server"] == HOST, f
        assert f.get("LoginName") == login, f
        assert f["SPA"] == "off" and f["AuthRequired"] == "on" and f["DomainRequired"] == "off", f
        ssl_on = f["SSL"] == "on"
        assert f["Encryption"] == ("SSL" if ssl_on else "TLS"), f
        got.append((f["Type"].lower(), int(f["Port"]), ssl_on))
    assert got == expected_servers(srv, off), (got, expected_servers(srv, off))


def setup():
    srv = Server()
    srv.add_user(ADDR)
    return srv.start()


@suite.case
def autoconfig_curl_https_and_http(srv):
    for url in (https_url(srv, AUTOCONFIG + "?emailaddress=" + ADDR),
                https_url(srv, "/mail/config-v1.1.xml?emailaddress=alice%40example.test"),
                http_url(srv, "/mail/config-v1.1.xml?emailaddress=" + ADDR),
                http_url(srv, AUTOCONFIG)):
        status, head, body = curl(srv, url)
        assert status == 200, (url, head)
        assert "content-type: application/xml" in head.lower(), head
        check_autoconfig(srv, body)
    # the domain comes from the address asked about, escaped
    status, _, body = curl(srv, https_url(srv, "/mail/config-v1.1.xml?emailaddress=bob%40Other.Example"))
    check_autoconfig(srv, body, domain="other.example")


@suite.case
def autoconfig_urllib(srv):
    ctx = client_tls()
    with urllib.request.urlopen("https://localhost:%d%s?emailaddress=%s" % (srv.port("https"), AUTOCONFIG, ADDR),
                                context=ctx, timeout=10) as r:
        assert r.status == 200
        assert int(r.headers["Content-Length"]) > 0
        check_autoconfig(srv, r.read())
    with urllib.request.urlopen("http://127.0.0.1:%d/mail/config-v1.1.xml" % srv.port("http"), timeout=10) as r:
        check_autoconfig(srv, r.read())


@suite.case
def autodiscover_post(srv):
    # curl, with a real request body, and the capitalised path Outlook uses
    status, head, body = curl(srv, https_url(srv, "/Autodiscover/Autodiscover.xml"), "-H",
                              "Content-Type: text/xml", "--data-binary", AD_REQUEST % ADDR)
    assert status == 200, head
    check_autodiscover(srv, body)
    # http.client; an address that needs escaping comes back escaped
    c = http.client.HTTPSConnection("localhost", srv.port("https"), context=client_tls(), timeout=10)
    odd = "o&apos;brien+x@example.test"
    c.request("POST", AD_XML, body=AD_REQUEST % odd, headers={"Content-Type": "text/xml"})
    r = c.getresponse()
    data = r.read()
    assert r.status == 200
    check_autodiscover(srv, data, login="o'brien+x@example.test")
    assert b"o&apos;brien+x@example.test" in data, data
    # a request for a schema Tern has not (ActiveSync): error 600
    c.request("POST", AD_XML, body=(AD_REQUEST % ADDR).replace("outlook/responseschema/2006a",
                                                               "mobilesync/responseschema/2006"))
    r = c.getresponse()
    root = ET.fromstring(r.read())
    assert root.findtext(AD_NS + "Response/" + AD_NS + "Error/" + AD_NS + "ErrorCode") == "600"
    # Expect: 100-continue: the interim response comes before the body is sent
    body = (AD_REQUEST % ADDR).encode()
    raw = Raw(srv.port("https"), tls=True)
    raw.send("POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n" % (AD_XML, len(body)))
    assert raw.line() == "HTTP/1.1 100 Continue" and raw.line() == ""
    raw.send(body)
    assert raw.line() == "HTTP/1.1 200 OK"
    raw.close()
    # probes with GET get the settings too, without LoginName
    c.request("GET", AD_XML)
    r = c.getresponse()
    assert r.status == 200
    check_autodiscover(srv, r.read(), login=None)
    c.close()


@suite.case
def autodiscover_json(srv):
    want = {"Protocol": "AutodiscoverV1", "Url": "https://%s:%d/autodiscover/autodiscover.xml" % (HOST, srv.port("https"))}
    for path in ("/autodiscover/autodiscover.json?Email=%s&Protocol=AutodiscoverV1" % ADDR,
                 "/autodiscover/autodiscover.json/v1.0/%s?Protocol=autodiscoverv1" % ADDR):
        status, head, body = curl(srv, https_url(srv, path))
        assert status == 200, head
        assert "content-type: application/json" in head.lower(), head
        assert json.loads(body) == want, body
    status, head, body = curl(srv, https_url(srv, "/autodiscover/autodiscover.json?Email=%s&Protocol=ActiveSync" % ADDR))
    assert status == 404, head
    assert json.loads(body)["ErrorCode"] == "InvalidProtocol", body


@suite.case
def healthz_head_and_keepalive(srv):
    status, head, body = curl(srv, https_url(srv, "/healthz"))
    assert status == 200 and body == b"ok\n", (head, body)
    status, head, body = curl(srv, http_url(srv, "/healthz"))
    assert status == 200 and body == b"ok\n", (head, body)
    c = http.client.HTTPSConnection("localhost", srv.port("https"), context=client_tls(), timeout=10)
    c.request("GET", "/healthz")
    r = c.getresponse()
    assert r.read() == b"ok\n"
    sock = c.sock
    # HEAD: the length of the GET, no body; same connection
    c.request("HEAD", AUTOCONFIG)
    r = c.getresponse()
    assert r.status == 200 and int(r.headers["Content-Length"]) > 100, r.headers
    assert r.read() == b""
    assert c.sock is sock, "connection was not kept alive"
    c.request("GET", "/nothing-here")
    r = c.getresponse()
    assert r.status == 404
    r.read()
    assert c.sock is sock
    c.close()
    # pipelined: two requests in one write, two responses in order
    raw = Raw(srv.port("http"))
    raw.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert raw.closed(5)
    assert raw.buf.startswith(b"HTTP/1.1 200 OK\r\n"), raw.buf
    # (plain HTTP redirects what it does not serve itself)
    assert b"\r\n\r\nok\nHTTP/1.1 301 Moved Permanently\r\n" in raw.buf, raw.buf
    raw.close()


@suite.case
def plain_http_redirects(srv):
    status, head, _ = curl(srv, http_url(srv, "/autodiscover/autodiscover.json?Protocol=AutodiscoverV1"))
    assert status == 301, head
    location = [line.split(":", 1)[1].strip() for line in head.split("\r\n") if line.lower().startswith("location:")]
    assert location == ["https://%s:%d/autodiscover/autodiscover.json?Protocol=AutodiscoverV1" %
                        (HOST, srv.port("https"))], head
    # curl follows it to the https listener
    status, _, body = curl(srv, http_url(srv, "/autodiscover/autodiscover.json?Protocol=AutodiscoverV1"), "-L")
    assert status == 200 and json.loads(body)["Protocol"] == "AutodiscoverV1", body


def raw_status(port, data, tls=False):
    """Sends data, returns (status, whether the server closed)."""
    r = Raw(port, tls=tls)
    try:
        r.send(data)
        line = r.line()
        closed = r.closed(5)
        return int(line.split(" ")[1]), closed, r.buf
    finally:
        r.close()


@suite.case
def bad_requests(srv):
    port = srv.port("http")
    st, closed, buf = raw_status(port, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: " + "a" * 9000 + "\r\n\r\n")
    assert st == 431 and closed and b"Connection: close" in buf, (st, buf)
    st, closed, _ = raw_status(port, "GET /" + "a" * 9000 + " HTTP/1.1\r\nHost: x\r\n\r\n")
    assert st == 414 and closed
    st, closed, _ = raw_status(port, "GET /healthz HTTP/1.1\r\n" + "".join("X-%d: y\r\n" % i for i in range(120)) +
                               "Host: x\r\n\r\n")
    assert st == 431 and closed
    st, closed, _ = raw_status(port, "GET /healthz HTTP/1.1\r\n\r\n")
    assert st == 400 and closed
    st, closed, _ = raw_status(port, "BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert st == 501, st
    st, closed, buf = raw_status(port, "DELETE /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert st == 405 and b"Allow: GET, HEAD" in buf, buf
    st, closed, _ = raw_status(srv.port("https"), "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n" % AD_XML,
                               tls=True)
    assert st == 413 and closed
    st, closed, _ = raw_status(port, "POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" % AD_XML)
    assert st == 411 and closed
    st, closed, _ = raw_status(port, "GET / HTTP/3.0\r\nHost: x\r\n\r\n")
    assert st == 505 and closed
    # with curl: an overlong header gets 431 too
    status, head, _ = curl(srv, https_url(srv, "/healthz"), "-H", "X-Big: " + "b" * 9000)
    assert status == 431 and "connection: close" in head.lower(), head
    # the server is still fine
    status, _, body = curl(srv, https_url(srv, "/healthz"))
    assert status == 200


@suite.case
def http10_keep_alive(srv):
    """RFC 7230 6.3 and A.1.2: an HTTP/1.0 request keeps the connection
    only with "Connection: keep-alive", and the reply must say so, or an
    HTTP/1.0 client (ApacheBench -k, old proxies) waits for the close
    that never comes; without it the connection closes after the reply."""
    r = Raw(srv.port("http"))
    try:
        for _ in range(2):
            r.send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            head = []
            while True:
                line = r.line()
                if line == "":
                    break
                head.append(line.lower())
            assert head[0].startswith("http/1.1 200") and "connection: keep-alive" in head, head
            length = int([h for h in head if h.startswith("content-length:")][0].split(":")[1])
            while len(r.buf) < length:
                r.buf += r.sock.recv(4096)
            r.buf = r.buf[length:]
        assert not r.closed(1)
    finally:
        r.close()
    st, closed, buf = raw_status(srv.port("http"), "GET /healthz HTTP/1.0\r\n\r\n")
    assert st == 200 and closed and b"keep-alive" not in buf.lower(), buf


@suite.case
def switched_off_service_disappears(_):
    srv = Server(extra="[pop3]\nenabled = no\n")
    ports = dict(srv.ports)
    for s in ("pop3", "pop3s"):
        del srv.ports[s]
    srv.start()
    srv.ports = ports
    try:
        _, _, body = curl(srv, https_url(srv, AUTOCONFIG))
        check_autoconfig(srv, body, off=("pop3",))
        _, _, body = curl(srv, https_url(srv, AD_XML), "--data-binary", AD_REQUEST % ADDR)
        check_autodiscover(srv, body, off=("pop3",))
        assert b"POP3" not in body and b"pop3" not in body
    finally:
        stop_and_check(srv)


@suite.case
def per_address_limit(_):
    # [limits] is the config's last section: the key lands in it
    srv = Server(extra="max_connections_per_ip = 2\n")
    srv.start()
    try:
        held = [Raw(srv.port("http")), Raw(srv.port("http"))]
        st, closed, buf = raw_status(srv.port("http"), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert st == 503 and closed and b"Too many connections from your address" in buf, buf
        for r in held:
            r.close()
        for _ in range(50):
            try:
                st, _, _ = raw_status(srv.port("http"), "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            except (EOFError, OSError):
                st = None
            if st == 200:
                break
            time.sleep(0.1)
        assert st == 200, st
    finally:
        stop_and_check(srv)


suite.run(setup, stop_and_check)
