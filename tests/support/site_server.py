"""A small web site on a free loopback port, for the source archive and watcher tests.

It serves fixture pages that exercise every outcome the watcher reports: an article
inside page furniture, a 301 -> 301 -> 200 chain, 404, 410, 503 (always, and once
before a 200), a page slower than any test timeout, a body over the size limit, a
robots.txt that disallows /private/, and a page whose text the test can change. It
counts every request so tests can prove what was (and was not) fetched. Nothing here
ever leaves 127.0.0.1.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROBOTS = "User-agent: *\nDisallow: /private/\n"

ARTICLE_BODY = """\
<h1>Alpha Institute: Notes on Regional Making</h1>
<p>Regional toolmakers reported that 42 percent of orders now arrive through shared supplier
networks. That share was 12 percent in 2011, 18 percent in 2014 and 27 percent in 2017.</p>
<p>The institute argues that &ldquo;a shared industrial commons&rdquo; of skills and facilities
keeps small firms competitive.</p>
<p>Members of the survey panel described how orders are matched to workshops, how prices are
agreed, and which services the networks share among their members across the region.</p>
"""

CHANGED_BODY = """\
<h1>Alpha Institute: Notes on Regional Making</h1>
<p>Regional toolmakers reported that about half of their orders now come through shared
supplier networks. That share was 12 percent in 2011, 18 percent in 2014 and 27 percent in 2017.</p>
<p>The institute argues that &ldquo;a shared industrial commons&rdquo; of skills and facilities
keeps small firms competitive.</p>
<p>Members of the survey panel described how orders are matched to workshops, how prices are
agreed, and which services the networks share among their members across the region.</p>
"""


def page(body: str, *, nav_extra: str = "") -> bytes:
    """An article wrapped in the furniture a real site has: navigation, an advert, a footer."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Notes on Regional Making | Alpha Institute</title></head>
<body>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/research">Research</a></li>
<li><a href="/about">About us</a></li>{nav_extra}</ul></nav></header>
<aside class="advert"><p>Become a member today and save 20% on all events!</p></aside>
<main><article>
{body}</article></main>
<footer><p>Contact us | Share This</p><p>&copy; 2020 Alpha Institute</p></footer>
</body></html>
""".encode()


class Site:
    """The server's state: what each path answers, and what it was asked."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.agents: list[str] = []
        self.slow_seconds = 3.0
        self.reset()

    def reset(self) -> None:
        self.hits.clear()
        self.agents.clear()
        self.changing = page(ARTICLE_BODY)
        self.flaky_failures = 1
        self.robots_status = 200

    def answer(self, path: str) -> tuple[int, dict[str, str], bytes]:
        html = {"Content-Type": "text/html; charset=utf-8"}
        if path == "/robots.txt":
            if self.robots_status != 200:
                return self.robots_status, {}, b""
            return 200, {"Content-Type": "text/plain"}, ROBOTS.encode()
        if path in ("/article", "/moved/article", "/private/page"):
            return 200, html, page(ARTICLE_BODY)
        if path == "/furniture":  # the quote survives only in the navigation
            return (
                200,
                html,
                page(
                    CHANGED_BODY,
                    nav_extra=(
                        "<li><a href='/n'>42 percent of orders now arrive through shared supplier "
                        "networks</a></li>"
                    ),
                ),
            )
        if path == "/old":
            return 301, {"Location": "/older"}, b""
        if path == "/older":
            return 301, {"Location": f"{self.base}/moved/article"}, b""
        if path == "/loop":
            return 302, {"Location": "/loop"}, b""
        if path == "/to-file":
            return 302, {"Location": "file:///etc/passwd"}, b""
        if path == "/missing":
            return 404, html, b"<h1>Not found</h1>"
        if path == "/removed":
            return 410, html, b"<h1>Gone</h1>"
        if path == "/down":
            return 503, {"Retry-After": "120"}, b"maintenance"
        if path == "/flaky":
            if self.hits[path] <= self.flaky_failures:
                return 503, {}, b"busy"
            return 200, html, page(ARTICLE_BODY)
        if path == "/slow":
            time.sleep(self.slow_seconds)
            return 200, html, page(ARTICLE_BODY)
        if path == "/big":
            return 200, {"Content-Type": "text/plain"}, b"x" * 300_000
        if path == "/big-stream":  # no Content-Length: only counting the bytes catches it
            return 200, {"Content-Type": "text/plain", "Content-Length": ""}, b"x" * 300_000
        if path == "/changing":
            return 200, html, self.changing
        if path == "/plain":
            return (
                200,
                {"Content-Type": "text/plain; charset=utf-8"},
                (
                    b"Beta Review of Cluster Policy\n\nCluster programmes have failed in many "
                    b"places because they picked sectors too narrowly.\n"
                ),
            )
        if path == "/report.pdf":
            return 200, {"Content-Type": "application/pdf"}, b"%PDF-1.7\n"
        return 404, html, b"<h1>Not found</h1>"


def start(site: Site) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            path = self.path.split("?")[0]
            site.hits[path] += 1
            site.agents.append(self.headers.get("User-Agent", ""))
            status, headers, body = site.answer(path)
            try:
                self.send_response(status)
                for name, value in headers.items():
                    if value:
                        self.send_header(name, value)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up first (a timeout test)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.block_on_close = False
    base = f"http://127.0.0.1:{server.server_address[1]}"
    site.base = base
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, base
