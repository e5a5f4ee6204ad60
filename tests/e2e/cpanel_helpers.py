"""Helpers for the control-panel end-to-end tests (tests/e2e/test_control_panel.py).

- `WebDriver`: a minimal W3C WebDriver client over urllib, speaking to Debian's chromedriver
  (no selenium, nothing downloaded);
- `Site`: a private lighttpd with mod_cgi on 127.0.0.1, serving cgi/ at /vmail/;
- `Library`: calls into the vmailsql library through the Perl module `Vmailsql`, the same
  binding the CGI pages use;
- `request()`: plain HTTP requests with full control of headers (forged requests).
"""

import http.client
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CGI_DIR = REPO / "cgi"
PERL_DIR = REPO / "perl"

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


def require(path_or_name, package):
    """The absolute path of a program; fails the test (never skips) naming the Debian package."""
    found = path_or_name if os.path.isabs(path_or_name) else shutil.which(path_or_name)
    if not found or not os.access(found, os.X_OK):
        for extra in ("/usr/sbin", "/sbin"):
            candidate = os.path.join(extra, os.path.basename(path_or_name))
            if os.access(candidate, os.X_OK):
                return candidate
        pytest.fail(f"{path_or_name} is missing: install the Debian package {package} "
                    f"(apt-get install {package}, or run tests/install-deps.sh)")
    return found


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, what, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with status {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"{what} did not listen on port {port} within {timeout} s")


def stop(proc):
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------------------------------------
# The Perl bindings

def perl_lib_dirs():
    """Directories that hold the built Vmailsql module, or fail saying how to build it:
    $VMAILSQL_PERL5LIB (colon-separated) when set, else perl/blib, else an installed one."""
    override = os.environ.get("VMAILSQL_PERL5LIB")
    if override:
        return override.split(os.pathsep)
    arch = PERL_DIR / "blib" / "arch"
    lib = PERL_DIR / "blib" / "lib"
    if (arch / "auto" / "Vmailsql").is_dir():
        return [str(lib), str(arch)]
    probe = subprocess.run(["perl", "-MVmailsql", "-e1"], capture_output=True, text=True)
    if probe.returncode == 0:
        return []  # installed system-wide
    pytest.fail("the Perl bindings are not built: run `cd perl && perl Makefile.PL && make` "
                "(tests/run-all.sh's perl stage does) — Vmailsql not found in perl/blib "
                f"or @INC: {probe.stderr.strip()}")


def perl_env(config_path):
    env = dict(os.environ)
    dirs = perl_lib_dirs()
    if dirs:
        env["PERL5LIB"] = os.pathsep.join(dirs + [env["PERL5LIB"]] if env.get("PERL5LIB") else dirs)
    env["VMAILSQL_CONFIG"] = str(config_path)
    return env


_CALL = r'''
use strict; use warnings;
use JSON::PP ();
use Vmailsql;
my $json = JSON::PP->new->ascii->canonical->allow_nonref->allow_blessed->convert_blessed;
my ($method, @args) = @{ $json->decode($ARGV[0]) };
my $vm = Vmailsql->open;
my @out = eval { $vm->$method(@args) };
if (my $e = $@) {
    my $kind = ref $e && eval { $e->can('kind') } ? $e->kind : 'perl';
    print $json->encode({ error => $kind, message => "$e" });
    exit 0;
}
print $json->encode({ ok => \@out });
'''


class LibraryError(Exception):
    def __init__(self, kind, message):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


class Library:
    """Calls `Vmailsql->open->METHOD(args)` in a fresh perl, as the CGI pages do:
    `lib(method, ...)` for a method returning one value, `lib.list(method, ...)` for a list."""

    def __init__(self, config_path):
        self.env = perl_env(config_path)

    def __call__(self, method, *args):
        out = self.list(method, *args)
        assert len(out) == 1, f"{method} returned {len(out)} values: {out!r}"
        return out[0]

    def list(self, method, *args):
        proc = subprocess.run(["perl", "-e", _CALL, json.dumps([method, *args])],
                              capture_output=True, text=True, env=self.env, timeout=60)
        if proc.returncode != 0 or not proc.stdout.strip():
            raise AssertionError(f"perl call {method} failed: {proc.returncode}\n{proc.stderr}")
        answer = json.loads(proc.stdout)
        if "error" in answer:
            raise LibraryError(answer["error"], answer["message"])
        return answer["ok"]

    def failure(self, method, *args):
        """The LibraryError of a call that must fail (AssertionError if it succeeds)."""
        try:
            result = self.list(method, *args)
        except LibraryError as e:
            return e
        raise AssertionError(f"{method}{args} succeeded with {result!r}, expected a failure")


# ---------------------------------------------------------------------------------------------
# The web server

LIGHTTPD_CONF = """\
server.document-root = "{docroot}"
server.bind = "127.0.0.1"
server.port = {port}
server.pid-file = "{tmp}/lighttpd.pid"
server.errorlog = "{tmp}/error.log"
server.breakagelog = "{tmp}/cgi-stderr.log"
server.upload-dirs = ( "{tmp}" )
server.modules = ( "mod_access", "mod_alias", "mod_setenv", "mod_cgi", "mod_accesslog" )
accesslog.filename = "{tmp}/access.log"
accesslog.format = "%h %t \\"%r\\" %>s %b \\"%{{Referer}}i\\""
mimetype.assign = (
  ".css" => "text/css; charset=utf-8",
  ".html" => "text/html; charset=utf-8",
  ".png" => "image/png",
)
alias.url = ( "/vmail/" => "{cgi}/" )
$HTTP["url"] =~ "^/vmail/lib/" {{ url.access-deny = ( "" ) }}
$HTTP["url"] =~ "^/vmail/(login|passwd_popbox)$" {{ cgi.assign = ( "" => "" ) }}
setenv.add-environment = ( {environment} )
"""


class Site:
    """A private lighttpd serving the CGI pages; `base` is http://127.0.0.1:PORT."""

    def __init__(self, tmp, config_path, extra_env=None):
        self.tmp = Path(tmp)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.docroot = self.tmp / "docroot"
        self.docroot.mkdir()
        env = {"VMAILSQL_CONFIG": str(config_path), **(extra_env or {})}
        dirs = perl_lib_dirs()
        if dirs:
            env["PERL5LIB"] = os.pathsep.join(dirs)
        environment = ", ".join(f'"{k}" => "{v}"' for k, v in env.items())
        self.conf = self.tmp / "lighttpd.conf"
        self.conf.write_text(LIGHTTPD_CONF.format(
            docroot=self.docroot, port=self.port, tmp=self.tmp, cgi=CGI_DIR,
            environment=environment))
        lighttpd = require("lighttpd", "lighttpd")
        check = subprocess.run([lighttpd, "-tt", "-f", str(self.conf)], capture_output=True, text=True)
        assert check.returncode == 0, f"lighttpd rejects its configuration:\n{check.stderr}"
        self.out = open(self.tmp / "lighttpd.out", "wb")
        self.proc = subprocess.Popen([lighttpd, "-D", "-f", str(self.conf)],
                                     stdout=self.out, stderr=subprocess.STDOUT)
        wait_for_port(self.port, self.proc, "lighttpd")

    def url(self, path):
        return self.base + path

    def cgi_stderr(self):
        """What the CGI scripts wrote to stderr."""
        path = self.tmp / "cgi-stderr.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def logs(self):
        """Everything the web server and the CGI scripts logged so far."""
        text = ""
        for name in ("access.log", "error.log", "cgi-stderr.log", "lighttpd.out"):
            path = self.tmp / name
            if path.exists():
                text += path.read_text(errors="replace")
        return text

    def close(self):
        stop(self.proc)
        self.out.close()


# ---------------------------------------------------------------------------------------------
# Plain HTTP (forged requests, header checks)

class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # list of (name, value)
        self.body = body

    def header(self, name):
        values = self.all(name)
        return values[0] if values else None

    def all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]


def request(url, method="GET", fields=None, headers=None):
    """One request, no redirects followed, no cookies kept."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    body = urllib.parse.urlencode(fields) if fields is not None else None
    hdrs = dict(headers or {})
    if body is not None:
        hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    conn.request(method, path, body=body, headers=hdrs)
    resp = conn.getresponse()
    result = Response(resp.status, resp.getheaders(), resp.read().decode("utf-8", "replace"))
    conn.close()
    return result


def run_cgi(script, config_path, method="GET", query="", fields=None, cookie=None, **extra):
    """Runs cgi/<script> as a CGI/1.1 server would (environment, body on stdin); returns a
    Response whose `stderr` is what the script logged."""
    env = perl_env(config_path)
    env.update({"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": method, "QUERY_STRING": query,
                "SCRIPT_NAME": f"/vmail/{script}", "SERVER_NAME": "mail.example", "SERVER_PORT": "80",
                "HTTP_HOST": "mail.example", "REMOTE_ADDR": "192.0.2.7", "SERVER_PROTOCOL": "HTTP/1.1"})
    data = b""
    if fields is not None:
        data = urllib.parse.urlencode(fields).encode()
        env.update({"CONTENT_TYPE": "application/x-www-form-urlencoded", "CONTENT_LENGTH": str(len(data))})
    if cookie:
        env["HTTP_COOKIE"] = cookie
    env.update(extra)
    proc = subprocess.run([str(CGI_DIR / script)], input=data, env=env, capture_output=True, timeout=60)
    head, _, body = proc.stdout.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0].startswith("Status: "), f"{script} wrote no CGI header: {proc.stdout[:300]!r} {proc.stderr!r}"
    headers = [tuple(line.split(": ", 1)) for line in lines]
    answer = Response(int(lines[0].split()[1]), headers, body.decode("utf-8", "replace"))
    answer.stderr = proc.stderr.decode("utf-8", "replace")
    return answer


# ---------------------------------------------------------------------------------------------
# WebDriver

class WebDriverError(Exception):
    pass


class El(str):
    """A WebDriver element reference."""


class ChromeDriver:
    """A private chromedriver process."""

    def __init__(self, tmp):
        require(CHROMIUM, "chromium")
        driver = require(CHROMEDRIVER, "chromium-driver")
        self.port = free_port()
        self.log = open(Path(tmp) / "chromedriver.log", "wb")
        self.proc = subprocess.Popen([driver, f"--port={self.port}"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, self.proc, "chromedriver")
        self.url = f"http://127.0.0.1:{self.port}"

    def close(self):
        stop(self.proc)
        self.log.close()


class WebDriver:
    """One headless Chromium session, driven with the W3C WebDriver protocol."""

    def __init__(self, driver, profile_dir, width=1280, height=900):
        self.driver = driver
        args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile_dir}",
                f"--window-size={width},{height}"]
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}}
        value = self._raw("POST", "/session", caps)
        self.session = value["sessionId"]

    def _raw(self, method, path, body=None):
        data = json.dumps(body if body is not None else {}).encode() if method == "POST" else None
        req = urllib.request.Request(self.driver.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                answer = json.loads(resp.read())
        except urllib.error.HTTPError as e:
            answer = json.loads(e.read() or b"{}")
            value = answer.get("value", {})
            raise WebDriverError(f"{method} {path}: {value.get('error')}: {value.get('message')}")
        return answer["value"]

    def cmd(self, method, path, body=None):
        return self._raw(method, f"/session/{self.session}{path}", body)

    # navigation and page
    def get(self, url):
        self.cmd("POST", "/url", {"url": url})

    @property
    def url(self):
        return self.cmd("GET", "/url")

    @property
    def title(self):
        return self.cmd("GET", "/title")

    @property
    def source(self):
        return self.cmd("GET", "/source")

    def script(self, code, *args):
        return self.cmd("POST", "/execute/sync", {"script": code, "args": list(args)})

    def set_size(self, width, height):
        self.cmd("POST", "/window/rect", {"width": width, "height": height})

    def cdp(self, command, params=None):
        """A Chrome DevTools command through chromedriver."""
        return self.cmd("POST", "/goog/cdp/execute", {"cmd": command, "params": params or {}})

    def screenshot(self, path, max_height=3000):
        """A PNG of the whole page (not only the viewport), at the window's width."""
        import base64
        size = self.cdp("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], max_height), "scale": 1}
        shot = self.cdp("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip})
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(base64.b64decode(shot["data"]))

    # elements
    def find_all(self, css):
        found = self.cmd("POST", "/elements", {"using": "css selector", "value": css})
        return [El(e[ELEMENT]) for e in found]

    def find(self, css):
        found = self.find_all(css)
        if not found:
            raise AssertionError(f"no element matches {css!r} on {self.url}:\n{self.text()}")
        return found[0]

    def _el(self, css_or_el):
        return css_or_el if isinstance(css_or_el, El) else self.find(css_or_el)

    def text(self, css_or_el="body"):
        return self.cmd("GET", f"/element/{self._el(css_or_el)}/text")

    def attr(self, css_or_el, name):
        return self.cmd("GET", f"/element/{self._el(css_or_el)}/attribute/{name}")

    def prop(self, css_or_el, name):
        return self.cmd("GET", f"/element/{self._el(css_or_el)}/property/{name}")

    def click(self, css_or_el):
        self.cmd("POST", f"/element/{self._el(css_or_el)}/click")

    def type(self, css, text):
        el = self.find(css)
        self.cmd("POST", f"/element/{el}/clear")
        self.cmd("POST", f"/element/{el}/value", {"text": text})

    def submit(self, button, fields=None):
        """Types fields (css -> text), clicks the button and waits for the next page."""
        for css, text in (fields or {}).items():
            self.type(css, text)
        before = self.script("return window.performance.timeOrigin;")
        self.click(button)
        self.wait_new_page(before)

    def wait_new_page(self, before, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                now = self.script("return [window.performance.timeOrigin, document.readyState];")
                if now[0] != before and now[1] == "complete":
                    return
            except WebDriverError:
                pass  # navigation in progress
            time.sleep(0.05)
        raise AssertionError(f"no new page loaded within {timeout} s (still at {self.url})")

    # cookies
    def cookies(self):
        return self.cmd("GET", "/cookie")

    def add_cookie(self, cookie):
        self.cmd("POST", "/cookie", {"cookie": cookie})

    def delete_cookies(self):
        self.cmd("DELETE", "/cookie")

    def quit(self):
        try:
            self.cmd("DELETE", "")
        except (WebDriverError, OSError):
            pass
