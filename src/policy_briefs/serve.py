"""``briefs serve``: the briefs in a browser, rendered again as their inputs are saved.

Three parts, each on its own thread:

- ``Preview`` holds what the browser is shown: every audience's brief as an HTML twin
  rendered in memory, or the located problems that stop them. ``refresh`` validates the
  whole project (a finding's references span files) but renders again only the briefs
  whose input hash (``fingerprint.BriefInputs``) changed. PDFs are rendered on request and
  kept until their brief changes.
- ``Watcher`` turns saves under findings/, templates/, the sources folder and briefs.toml
  into refreshes, one at a time, changes that arrive during a refresh folded into the next.
- The HTTP server (stdlib, one thread per request) serves the index, the briefs, their
  PDFs and ``/events``, a server-sent-event stream that tells open pages the state changed.
  Only pages it serves carry the few lines of script that listen to it; built files never do.

Nothing is written to output/ unless ``write`` asks for a build after each good save.
"""

from __future__ import annotations

import html
import ipaddress
import queue
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import BriefsError, Problem, ValidationFailed, summarise
from .project import SETTINGS_FILE, Project

if TYPE_CHECKING:
    from .selection import Brief

Say = Callable[[str], None]

# How often an idle event stream sends a comment, so proxies and browsers keep it open and
# a page that went away is noticed (the write fails).
KEEPALIVE_SECONDS = 15.0


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8000  # 0: any free port
    open_browser: bool = False
    allow_remote: bool = False  # a host other than loopback must be asked for
    sources_dir: Path | None = None  # default: the project's (briefs.toml)
    write: bool = False  # also build into output/ after each good save
    log_requests: bool = False


@dataclass
class Shown:
    """One brief as served: its input hash, its HTML twin, its PDF once asked for."""

    brief: Brief
    key: str
    html: bytes
    pdf: bytes | None = None


@dataclass
class State:
    """What every page shows at one moment. ``version`` changes only when that does."""

    version: int = 0
    project: Project | None = None
    series: str = ""
    briefs: dict[str, Shown] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # lines shown instead of the briefs
    refreshed: str = ""

    def signature(self) -> tuple:
        return (
            tuple(self.errors),
            tuple(str(w) for w in self.warnings),
            tuple((slug, s.key) for slug, s in self.briefs.items()),
        )


class Preview:
    """The served state and how it is brought up to date."""

    def __init__(self, root: Path, options: ServeOptions, say: Say):
        self.root = root
        self.options = options
        self.say = say
        self.state = State()
        self.changed = threading.Condition()
        self.closing = False
        # The briefs as last rendered, kept through a spell of invalid input so the save
        # that fixes it renders only what changed meanwhile.
        self._rendered: dict[str, Shown] = {}
        # WeasyPrint and the template environment are not known to be thread-safe: a
        # refresh and a PDF asked for by the browser take turns.
        self._render = threading.Lock()

    # -- bringing the state up to date -----------------------------------------------

    def refresh(self, reason: str = "") -> State:
        """Validate, render the briefs whose inputs changed, publish the new state."""
        from .fingerprint import BriefInputs, input_hash
        from .render import render_brief
        from .selection import plan_briefs
        from .validate import load_valid_corpus

        started = time.monotonic()
        new = State(version=self.state.version, refreshed=time.strftime("%H:%M:%S"))
        rendered: list[str] = []
        try:
            # A fresh Project each time: briefs.toml and the template folders are read once
            # per instance, and either may just have changed.
            project = Project.at(self.root)
            new.project = project
            corpus, new.warnings = load_valid_corpus(project, sources_dir=self.options.sources_dir)
            new.series = corpus.publication.series if corpus.publication else ""
            hasher = BriefInputs(project)
            for brief in plan_briefs(corpus):
                key = input_hash(hasher.of(brief))
                before = self._rendered.get(brief.slug)
                if before is not None and before.key == key:
                    new.briefs[brief.slug] = before
                    continue
                with self._render:
                    out = render_brief(project, brief, ("html",), identifier=key)
                new.briefs[brief.slug] = Shown(brief, key, out.files["html"])
                rendered.append(brief.slug)
            self._rendered = dict(new.briefs)
        except ValidationFailed as exc:
            new.briefs, new.warnings = {}, []
            new.errors = [str(p) for p in exc.problems] + [summarise(exc.problems)]
        except BriefsError as exc:
            new.briefs, new.warnings = {}, []
            new.errors = [f"error: {exc}"]
        except Exception as exc:  # a bug: keep serving, show it, keep the details
            new.briefs, new.warnings = {}, []
            new.errors = [
                f"internal error: {type(exc).__name__}: {exc}",
                "This is a bug in policy-briefs; the traceback is in the terminal.",
            ]
            traceback.print_exc()
        self._publish(new)
        self._report(reason, new, rendered, time.monotonic() - started)
        if self.options.write and not new.errors:
            self._build()
        return new

    def _publish(self, new: State) -> None:
        with self.changed:
            if new.signature() != self.state.signature():
                new.version = self.state.version + 1
            self.state = new
            self.changed.notify_all()

    def _report(self, reason: str, new: State, rendered: list[str], seconds: float) -> None:
        lead = f"{reason}: " if reason else ""
        if new.errors:
            for line in new.errors[:-1]:
                self.say(line)
            self.say(f"{lead}{new.errors[-1]}; the page shows the problems")
            return
        kept = [slug for slug in new.briefs if slug not in rendered]
        parts = []
        if rendered:
            parts.append(f"rendered {', '.join(rendered)} in {seconds:.1f} s")
        if kept:
            parts.append(f"{', '.join(kept)} unchanged")
        if new.warnings:
            parts.append(summarise(new.warnings))
        self.say(lead + ("; ".join(parts) or "no briefs"))

    def _build(self) -> None:
        from .build import BuildOptions, build

        try:
            report = build(
                Project.at(self.root), BuildOptions(sources_dir=self.options.sources_dir)
            )
        except BriefsError as exc:
            self.say(f"--write: the build failed: {exc}")
            return
        if report.briefs:
            self.say(f"--write: wrote {', '.join(r.brief.slug for r in report.briefs)}")

    # -- what the server asks for -------------------------------------------------------

    def pdf(self, slug: str) -> bytes | None:
        """The brief's PDF, rendered on first request for its current inputs."""
        from .render import render_brief

        state = self.state
        shown = state.briefs.get(slug)
        if shown is None or state.project is None:
            return None
        with self._render:
            if shown.pdf is None:
                out = render_brief(state.project, shown.brief, ("pdf",), identifier=shown.key)
                shown.pdf = out.files["pdf"]
        return shown.pdf

    def wait_for_change(self, version: int, timeout: float) -> int:
        """The state's version once it differs from ``version`` (or after ``timeout``)."""
        with self.changed:
            self.changed.wait_for(
                lambda: self.state.version != version or self.closing, timeout=timeout
            )
            return self.state.version

    def close(self) -> None:
        with self.changed:
            self.closing = True
            self.changed.notify_all()


# -- pages ----------------------------------------------------------------------------

_STYLE = """
body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#1b1b1b}
h1{font-size:1.5rem} table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:.4rem .6rem;border-bottom:1px solid #ddd}
.problems li{font-family:ui-monospace,monospace;white-space:pre-wrap;margin:.3rem 0}
.error{border-left:4px solid #b00020;padding:.2rem 1rem;background:#fff4f5}
.note{color:#555}
"""


def reload_script(version: int) -> str:
    """Reload the page when the server says the state changed since it was rendered."""
    return (
        f'<script>(function(){{var shown="{version}";'
        'var events=new EventSource("/events");'
        "events.onmessage=function(e){if(e.data!==shown){location.reload();}};"
        "})();</script>"
    )


def with_reload(page: bytes, version: int) -> bytes:
    """The page with the reload script just before its closing body tag."""
    script = reload_script(version).encode()
    at = page.rfind(b"</body>")
    return page + script if at < 0 else page[:at] + script + page[at:]


def _page(title: str, body: str, version: int) -> bytes:
    text = (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )
    return with_reload(text.encode(), version)


def problems_page(state: State) -> bytes:
    items = "".join(f"<li>{html.escape(line)}</li>" for line in state.errors[:-1])
    body = (
        '<div class="error" role="alert"><h1>The briefs cannot be rendered</h1>'
        f"<p>{html.escape(state.errors[-1])}. Fix the inputs and save: this page reloads "
        "by itself.</p></div>"
        + (f'<ol class="problems">{items}</ol>' if items else "")
        + f'<p class="note">Checked at {html.escape(state.refreshed)}.</p>'
    )
    return _page("Problems: briefs serve", body, state.version)


def index_page(state: State) -> bytes:
    if state.errors:
        return problems_page(state)
    rows = "".join(
        f'<tr><td><a href="/{html.escape(slug)}.html">{html.escape(s.brief.title)}</a></td>'
        f"<td>{html.escape(s.brief.audience.title)}</td>"
        f"<td>{len(s.brief.items)}</td>"
        f'<td><a href="/{html.escape(slug)}.pdf">PDF</a></td></tr>'
        for slug, s in state.briefs.items()
    )
    warnings = "".join(f"<li>{html.escape(str(w))}</li>" for w in state.warnings)
    body = (
        f"<h1>{html.escape(state.series or 'Briefs')}: preview</h1>"
        + (
            "<table><thead><tr><th>Brief</th><th>Audience</th><th>Findings</th>"
            f"<th>Print</th></tr></thead><tbody>{rows}</tbody></table>"
            if rows
            else "<p>No briefs: no finding is meant for any audience yet.</p>"
        )
        + (f'<h2>Warnings</h2><ol class="problems">{warnings}</ol>' if warnings else "")
        + f'<p class="note">Rendered at {html.escape(state.refreshed)}; pages reload as you '
        "save. The PDF is rendered when you open it.</p>"
    )
    return _page(f"{state.series or 'Briefs'}: preview", body, state.version)


def not_found_page(state: State, path: str) -> bytes:
    links = "".join(
        f'<li><a href="/{html.escape(slug)}.html">{html.escape(slug)}</a></li>'
        for slug in state.briefs
    )
    body = (
        f"<h1>Not found</h1><p>No page {html.escape(path)}. "
        f'Back to <a href="/">the index</a>.</p><ul>{links}</ul>'
    )
    return _page("Not found: briefs serve", body, state.version)


# -- the server -----------------------------------------------------------------------


class PreviewServer(ThreadingHTTPServer):
    daemon_threads = True  # an open event stream must not hold up Ctrl-C
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], preview: Preview, hosts: set[str] | None):
        super().__init__(address, Handler)
        self.preview = preview
        # Names the browser may use for this server (None: any). A page elsewhere that
        # points its own domain name at 127.0.0.1 (DNS rebinding) sends its own name in
        # Host, and is refused, so it cannot read draft briefs.
        self.hosts = hosts


class Handler(BaseHTTPRequestHandler):
    server: PreviewServer
    server_version = "briefs-serve"

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        if not self._host_allowed():
            self._send(HTTPStatus.BAD_REQUEST, b"unexpected Host header\n", "text/plain")
            return
        preview = self.server.preview
        path = self.path.split("?", 1)[0]
        state = preview.state
        if path == "/events":
            self._events(preview)
        elif path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, index_page(state))
        elif state.errors and path.endswith((".html", ".pdf")):
            self._send(HTTPStatus.OK, problems_page(state))
        elif path.endswith(".html") and path[1:-5] in state.briefs:
            self._send(HTTPStatus.OK, with_reload(state.briefs[path[1:-5]].html, state.version))
        elif path.endswith(".pdf") and path[1:-4] in state.briefs:
            self._pdf(preview, path[1:-4])
        else:
            self._send(HTTPStatus.NOT_FOUND, not_found_page(state, path))

    def _pdf(self, preview: Preview, slug: str) -> None:
        try:
            data = preview.pdf(slug)
        except BriefsError as exc:
            state = preview.state
            failed = State(
                state.version,
                errors=[f"error: {exc}", "the PDF failed to render"],
                refreshed=state.refreshed,
            )
            self._send(HTTPStatus.OK, problems_page(failed))
            return
        if data is None:  # the brief went away between the two looks at the state
            self._send(HTTPStatus.NOT_FOUND, not_found_page(preview.state, self.path))
            return
        self._send(
            HTTPStatus.OK,
            data,
            "application/pdf",
            {"Content-Disposition": f'inline; filename="{slug}.pdf"'},
        )

    def _events(self, preview: Preview) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        version = preview.state.version
        try:
            self._event(f"retry: 1000\ndata: {version}\n\n")
            while not preview.closing:
                now = preview.wait_for_change(version, KEEPALIVE_SECONDS)
                if preview.closing:
                    break
                self._event(f"data: {now}\n\n" if now != version else ": still here\n\n")
                version = now
        except (BrokenPipeError, ConnectionResetError):
            pass  # the page was closed or reloaded

    def _event(self, text: str) -> None:
        self.wfile.write(text.encode())
        self.wfile.flush()

    def _send(
        self,
        status: HTTPStatus,
        body: bytes,
        kind: str = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _host_allowed(self) -> bool:
        hosts = self.server.hosts
        if hosts is None:
            return True
        name = (self.headers.get("Host") or "").strip().lower()
        if name.startswith("["):  # [::1]:8000
            name = name[1 : name.find("]")] if "]" in name else name
        else:
            name = name.rsplit(":", 1)[0]
        return name in hosts

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        if self.server.preview.options.log_requests:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- the watcher ----------------------------------------------------------------------


class Watcher:
    """Saves under the watched folders become refreshes of the preview, one at a time."""

    def __init__(self, preview: Preview, project: Project, sources_dir: Path | None):
        self.preview = preview
        self.root = project.root
        self.stop = threading.Event()
        self.changes: queue.Queue[set[Path]] = queue.Queue()
        folders = [project.findings_dir, project.templates_dir]
        if sources_dir is not None:
            folders.append(sources_dir)
        self.folders = [f for f in folders if f.is_dir()]
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        from watchfiles import DefaultFilter

        def settings_only(_change: Any, path: str) -> bool:
            return Path(path).name == SETTINGS_FILE

        # Two watches: the folders recursively, the project root alone for briefs.toml.
        # Watching the file itself would stop at the first save by an editor that writes a
        # new file and renames it over the old one; watching the root recursively would
        # also watch output/, .git and the like.
        self._spawn(self.folders, True, DefaultFilter())
        self._spawn([self.root], False, settings_only)
        self._spawn_refresher()

    def _spawn(self, paths: list[Path], recursive: bool, keep: Any) -> None:
        from watchfiles import watch

        def run() -> None:
            for batch in watch(
                *paths,
                recursive=recursive,
                watch_filter=keep,
                stop_event=self.stop,
                raise_interrupt=False,
            ):
                self.changes.put({Path(path) for _change, path in batch})

        if paths:
            thread = threading.Thread(target=run, name="briefs-watch", daemon=True)
            thread.start()
            self.threads.append(thread)

    def _spawn_refresher(self) -> None:
        def run() -> None:
            while not self.stop.is_set():
                try:
                    paths = self.changes.get(timeout=0.5)
                except queue.Empty:
                    continue
                while not self.changes.empty():  # saves made meanwhile: one refresh
                    paths |= self.changes.get_nowait()
                self.preview.refresh(self._describe(paths))

        thread = threading.Thread(target=run, name="briefs-refresh", daemon=True)
        thread.start()
        self.threads.append(thread)

    def _describe(self, paths: set[Path]) -> str:
        # Editors' and tools' scratch files (no suffix, already gone) are noise here.
        names = sorted(_shown(p, self.root) for p in paths if p.exists() or p.suffix)
        if not names:
            return "inputs changed"
        more = f" and {len(names) - 3} more" if len(names) > 3 else ""
        return f"{', '.join(names[:3])}{more} changed"

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=5)


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


# -- the use case ---------------------------------------------------------------------


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a service manager, a test harness) ends the server as Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def serve(
    project: Project, options: ServeOptions, say: Say, ready: Callable[[str], None] | None = None
) -> None:
    """Serve the briefs until interrupted (Ctrl-C or SIGTERM), which ends it cleanly."""
    loopback = is_loopback(options.host)
    if not loopback and not options.allow_remote:
        raise BriefsError(
            f"--host {options.host} would let other machines read the drafts; "
            "add --allow-remote to mean it"
        )
    if not loopback:
        say(
            f"warning: serving on {options.host}: anyone who can reach this machine can read "
            "the draft briefs; there is no login and no encryption"
        )
    sources_dir = project.sources_dir(options.sources_dir)
    preview = Preview(project.root, options, say)
    with _terminate_as_interrupt():
        try:
            preview.refresh("start")
            hosts = {"localhost", "127.0.0.1", "::1", options.host.lower()} if loopback else None
            try:
                server = PreviewServer((options.host, options.port), preview, hosts)
            except OSError as exc:
                raise BriefsError(
                    f"cannot listen on {options.host}:{options.port}: {exc.strerror or exc}"
                    + (
                        "; another program uses that port: try --port 0 (any free port)"
                        if options.port
                        else ""
                    )
                ) from None
            host, port = str(server.server_address[0]), int(server.server_address[1])
            shown_host = f"[{host}]" if ":" in host else host
            url = f"http://{shown_host}:{port}/"
            watcher = Watcher(preview, project, sources_dir)
            try:
                watcher.start()
                if ready is not None:
                    ready(url)
                if options.open_browser:
                    import webbrowser

                    webbrowser.open(url)
                server.serve_forever(poll_interval=0.25)
            finally:
                preview.close()
                watcher.close()
                server.server_close()
        except KeyboardInterrupt:
            pass
    say("stopped")
