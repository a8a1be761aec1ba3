"""`briefs serve`: a real server in a subprocess on a free loopback port, edited under it.

Every wait is bounded and the process is always ended, whatever the test finds.
"""

from __future__ import annotations

import http.client
import os
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from policy_briefs.serve import is_loopback, with_reload

HEADLINE = "Many orders now come through shared supplier networks"
EDITED = "Most orders now travel through shared supplier networks"


class Server:
    def __init__(self, process: subprocess.Popen, url: str, lines: queue.Queue[str]):
        self.process, self.url, self.lines = process, url, lines

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, str, bytes]:
        request = urllib.request.Request(self.url + path.lstrip("/"), headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return answer.status, answer.headers["Content-Type"], answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers["Content-Type"], exc.read()

    def page(self, path: str) -> str:
        status, _kind, body = self.get(path)
        assert status == 200
        return body.decode()

    def until(self, path: str, holds: Callable[[str], bool], seconds: float = 20) -> str:
        """The page once ``holds`` is true of it; fails after ``seconds``."""
        deadline = time.monotonic() + seconds
        while True:
            text = self.page(path)
            if holds(text):
                return text
            if time.monotonic() > deadline:
                pytest.fail(f"{path} did not change as expected in {seconds} s:\n{text[:3000]}")
            time.sleep(0.2)


@pytest.fixture
def server(mini_project: Path) -> Iterator[Server]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("BRIEFS_SOURCES_DIR", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "policy_briefs",
            "serve",
            "--port",
            "0",
            "--project",
            str(mini_project),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        url, seen = None, []
        deadline = time.monotonic() + 90
        while url is None and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                assert process.poll() is None, "".join(seen)
                continue
            seen.append(line)
            found = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
            url = found[1] if found else None
        assert url, f"the server did not say where it listens:\n{''.join(seen)}"
        yield Server(process, url, lines)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
    assert not (mini_project / "output").exists(), "serve wrote to output/ unasked"


def first_event(url: str) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse, str]:
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=20)
    connection.request("GET", "/events")
    response = connection.getresponse()
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    return connection, response, next_data(response)


def next_data(response: http.client.HTTPResponse) -> str:
    while True:
        line = response.readline().decode()
        assert line, "the event stream ended"
        if line.startswith("data: "):
            return line.removeprefix("data: ").strip()


def test_the_edit_loop(server: Server, mini_project: Path):
    index = server.page("/")
    assert 'href="/federal.html"' in index and 'href="/sme.pdf"' in index
    brief = server.page("/federal.html")
    assert HEADLINE in brief
    assert 'new EventSource("/events")' in brief  # the served page reloads itself

    connection, events, version = first_event(server.url)
    try:
        networks = mini_project / "findings" / "networks.yaml"
        good = networks.read_text("utf-8")
        networks.write_text(good.replace(HEADLINE, EDITED), "utf-8")
        brief = server.until("/federal.html", lambda t: EDITED in t)
        assert HEADLINE not in brief
        assert next_data(events) != version  # open pages are told to reload

        # Invalid YAML: the located problem instead of a stale brief, escaped.
        broken = good.replace("    confidence: high\n", "    confidence: high\n   oops: [\n", 1)
        networks.write_text(broken, "utf-8")
        page = server.until("/federal.html", lambda t: "cannot be rendered" in t)
        assert re.search(r"findings/networks\.yaml:\d+:\d+: error: YAML syntax", page)
        assert HEADLINE not in page and EDITED not in page
        assert "<block" not in page  # the parser's words are escaped, never markup
        assert "cannot be rendered" in server.page("/")

        networks.write_text(good, "utf-8")
        brief = server.until("/federal.html", lambda t: HEADLINE in t)
        assert "cannot be rendered" not in brief
    finally:
        connection.close()

    status, kind, pdf = server.get("/federal.pdf")
    assert (status, kind) == (200, "application/pdf") and pdf.startswith(b"%PDF-")
    status, _kind, body = server.get("/nowhere.html")
    assert status == 404 and b'href="/federal.html"' in body
    # A page elsewhere that points its own name at 127.0.0.1 is refused (DNS rebinding).
    status, _kind, _body = server.get("/federal.html", {"Host": "attacker.example:80"})
    assert status == 400


def test_the_server_ends_cleanly_on_sigterm(server: Server):
    server.process.terminate()
    assert server.process.wait(timeout=15) == 0
    output: list[str] = []
    deadline = time.monotonic() + 10
    while "stopped" not in "".join(output) and time.monotonic() < deadline:
        try:
            output.append(server.lines.get(timeout=0.5))
        except queue.Empty:
            continue
    assert "stopped" in "".join(output)
    assert "Traceback" not in "".join(output)


def test_a_remote_host_must_be_asked_for(cli, mini_project: Path):
    result = cli("serve", "--host", "0.0.0.0", "--project", mini_project)
    assert result.exit_code == 1
    assert "--allow-remote" in result.stderr
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")


def test_the_reload_script_goes_before_the_closing_body_tag():
    page = with_reload(b"<html><body><p>Hi</p></body></html>", 7)
    assert page.startswith(b"<html><body><p>Hi</p><script>")
    assert page.endswith(b"</script></body></html>")
    assert b'var shown="7"' in page
