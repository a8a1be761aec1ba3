"""`briefs send` against a real SMTP server on loopback (aiosmtpd), with injected faults.

Every test checks what the server actually received: who got which message, with
exactly which attachment bytes, and that nothing arrived twice.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
import shutil
import socket
import sqlite3
import subprocess
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from policy_briefs.build import BuildOptions, build
from policy_briefs.deliver import SendOptions, send_briefs
from policy_briefs.deliver.ledger import Ledger
from policy_briefs.errors import BriefsError
from policy_briefs.project import Project
from support.mini import FEDERAL_FINDING

STAKEHOLDERS = """\
stakeholders:
  - name: Ada Lovelace
    organisation: Analytical Engines
    email: ada@example.gov
    audiences: [federal]
  - name: Grace Hopper
    organisation: Hopper Tooling
    email: grace@example.com
    audiences: [sme, federal]
    format: both
  - name: Lin Wei
    email: lin@example.net
    audiences: [sme]
"""
# (recipient, brief) pairs the stakeholders above receive
EXPECTED = {
    ("ada@example.gov", "federal"),
    ("grace@example.com", "federal"),
    ("grace@example.com", "sme"),
    ("lin@example.net", "sme"),
}


# --- a real SMTP server that records messages and misbehaves on request -------------


class Recorder:
    """aiosmtpd handler. ``faults[address]`` is a queue of what to do with the next
    messages to that address: an SMTP reply such as '451 ...', or 'drop' (close the
    connection without answering). ``refuse`` holds addresses refused at RCPT with 550."""

    def __init__(self):
        self.received: list[tuple[str, list[str], bytes]] = []
        self.faults: dict[str, list[str]] = {}
        self.refuse: set[str] = set()
        self.logins: list[str] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        queue = self.faults.get(envelope.rcpt_tos[0])
        if queue:
            action = queue.pop(0)
            if action == "drop":
                server.transport.close()
                return "421 gone"
            return action
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 Accepted"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=_free_port())
    controller.start()
    recorder.port = controller.port
    yield recorder
    controller.stop()


def smtp_env(server, **extra) -> dict[str, str]:
    env = {
        "BRIEFS_SMTP_HOST": "127.0.0.1",
        "BRIEFS_SMTP_PORT": str(server.port),
        "BRIEFS_SMTP_STARTTLS": "0",
        "BRIEFS_FROM": "Policy Unit <briefs@example.org>",
        "BRIEFS_SMTP_RETRY_WAIT": "0.01",
        "BRIEFS_SMTP_RETRIES": "4",
        "BRIEFS_SMTP_TIMEOUT": "5",
    }
    env.update(extra)
    return env


# --- a built project, once per module ---------------------------------------------


@pytest.fixture(scope="module")
def built(mini_build, tmp_path_factory) -> Path:
    """The session's build of tests/projects/mini without its declared edition (the
    audiences' briefs alone keep the counts here plain; test_editions.py sends editions);
    tests copy it before changing anything."""
    root = mini_build.copy(tmp_path_factory.mktemp("send"))
    (root / "findings" / "editions.yaml").unlink()
    report = build(Project.at(root), BuildOptions())  # drops the edition, renders nothing
    assert report.briefs == [] and "sme-supplier-networks" not in report.kept
    return root


@pytest.fixture
def project(built, tmp_path) -> Path:
    root = Path(shutil.copytree(built, tmp_path / "mini"))
    (root / "stakeholders.yaml").write_text(STAKEHOLDERS, "utf-8")
    return root


def send(root: Path, env: dict, **options):
    return send_briefs(Project.at(root), SendOptions(**options), env=env)


def received(server) -> list[tuple[str, email.message.EmailMessage]]:
    out = []
    for _from, rcpts, content in server.received:
        assert len(rcpts) == 1
        out.append((rcpts[0], email.message_from_bytes(content, policy=email.policy.default)))
    return out


def pairs(server) -> list[tuple[str, str]]:
    return [(rcpt, msg["X-Briefs-Brief"]) for rcpt, msg in received(server)]


def manifest(root: Path) -> dict:
    return json.loads((root / "output" / "manifest.json").read_text())["briefs"]


def ledger_rows(root: Path) -> list[dict]:
    with sqlite3.connect(root / ".briefs" / "ledger.sqlite") as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM deliveries ORDER BY id")]


# --- delivery --------------------------------------------------------------------


def test_each_recipient_gets_exactly_the_built_files_once(project, smtp):
    report = send(project, smtp_env(smtp))
    assert report.ok and report.count("sent") == 4
    assert sorted(pairs(smtp)) == sorted(EXPECTED)

    briefs = manifest(project)
    for rcpt, msg in received(smtp):
        slug = msg["X-Briefs-Brief"]
        assert msg["To"].addresses[0].addr_spec == rcpt
        assert msg["From"].addresses[0].addr_spec == "briefs@example.org"
        number = briefs[slug]["version"]["number"]
        assert msg["Subject"] == f"{briefs[slug]['title']} (version {number})"
        attachments = {a.get_filename(): a.get_payload(decode=True) for a in msg.iter_attachments()}
        wanted = {"pdf", "html"} if rcpt == "grace@example.com" else {"pdf"}
        assert set(attachments) == {f"{slug}.{fmt}" for fmt in wanted}
        for fmt in wanted:
            data = attachments[f"{slug}.{fmt}"]
            assert hashlib.sha256(data).hexdigest() == briefs[slug]["files"][fmt]["sha256"]
            assert data == (project / "output" / f"{slug}.{fmt}").read_bytes()
        text = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        assert briefs[slug]["title"] in text and briefs[slug]["title"] in html
    ids = [msg["Message-ID"] for _rcpt, msg in received(smtp)]
    assert len(set(ids)) == 4

    rows = ledger_rows(project)
    assert {(r["recipient"], r["brief"]) for r in rows} == EXPECTED
    assert all(r["status"] == "sent" and r["transport"] == "smtp" for r in rows)
    assert all(r["sha256"] == briefs[r["brief"]]["files"]["pdf"]["sha256"] for r in rows)


def test_a_second_run_sends_nothing(project, smtp):
    send(project, smtp_env(smtp))
    again = send(project, smtp_env(smtp))
    assert again.outcomes == [] and again.up_to_date == 4 and again.ok
    assert len(smtp.received) == 4


def test_after_a_rebuild_only_recipients_of_the_changed_brief_get_it(project, smtp, cli):
    send(project, smtp_env(smtp))
    before = manifest(project)
    # A new finding for federal readers only: every finding the sme brief shows, even
    # beside a contrasting one, stays as it was.
    theme = project / "findings" / "networks.yaml"
    theme.write_text(theme.read_text() + FEDERAL_FINDING)
    result = cli("build", "--project", project)
    assert result.exit_code == 0, result.output
    after = manifest(project)
    # The edited finding is in the federal brief only.
    assert after["federal"]["files"]["pdf"]["sha256"] != before["federal"]["files"]["pdf"]["sha256"]
    assert after["sme"]["files"]["pdf"]["sha256"] == before["sme"]["files"]["pdf"]["sha256"]

    smtp.received.clear()
    report = send(project, smtp_env(smtp))
    assert sorted(pairs(smtp)) == [("ada@example.gov", "federal"), ("grace@example.com", "federal")]
    assert report.up_to_date == 2
    for _rcpt, msg in received(smtp):
        assert msg["Subject"] == "Updated: Test Briefs: Federal policymakers (version 1.1)"
        text = msg.get_body(("plain",)).get_content()
        assert "New: Networks work best with a broker who knows the firms" in text
        assert "Revised:" not in text and "No longer included:" not in text
        pdf = next(a for a in msg.iter_attachments() if a.get_filename() == "federal.pdf")
        assert (
            hashlib.sha256(pdf.get_payload(decode=True)).hexdigest()
            == after["federal"]["files"]["pdf"]["sha256"]
        )
    smtp.received.clear()
    assert send(project, smtp_env(smtp)).outcomes == []
    assert smtp.received == []


# --- faults ----------------------------------------------------------------------


def test_temporary_failures_are_retried_then_delivered_once(project, smtp):
    smtp.faults["ada@example.gov"] = ["451 4.3.0 Try again later"] * 2
    report = send(project, smtp_env(smtp))
    assert report.ok
    assert sorted(pairs(smtp)) == sorted(EXPECTED)
    row = next(r for r in ledger_rows(project) if r["recipient"] == "ada@example.gov")
    assert row["status"] == "sent" and row["attempts"] == 3
    # The summary does not hide them.
    assert report.retries == 2
    ada = next(o for o in report.outcomes if o.stakeholder.email == "ada@example.gov")
    assert ada.retries == 2 and "delivered on try 3" in ada.detail


def test_the_cli_summary_counts_retries(project, smtp, cli, monkeypatch):
    smtp.faults["lin@example.net"] = ["451 4.3.0 Try again later"]
    for name, value in smtp_env(smtp).items():
        monkeypatch.setenv(name, value)
    result = cli("send", "--project", project)
    assert result.exit_code == 0, result.output
    assert "4 sent, 0 up to date, 1 retry (" in result.stdout
    data = json.loads(cli("send", "--project", project, "--json").stdout)
    assert data["retries"] == 0 and data["up_to_date"] == 4


def test_a_dropped_connection_is_retried_and_nothing_is_lost(project, smtp):
    smtp.faults["grace@example.com"] = ["drop"]
    smtp.faults["lin@example.net"] = ["drop", "drop"]
    report = send(project, smtp_env(smtp))
    assert report.ok
    assert sorted(pairs(smtp)) == sorted(EXPECTED)


def test_a_permanent_refusal_is_recorded_and_the_others_still_go(project, smtp, cli, monkeypatch):
    smtp.refuse.add("lin@example.net")
    for name, value in smtp_env(smtp).items():
        monkeypatch.setenv(name, value)
    result = cli("send", "--project", project)
    assert result.exit_code == 1
    assert "lin@example.net" in result.stdout and "550" in result.stdout
    assert sorted(pairs(smtp)) == sorted(EXPECTED - {("lin@example.net", "sme")})
    failed = [r for r in ledger_rows(project) if r["status"] == "failed"]
    assert [(r["recipient"], r["brief"]) for r in failed] == [("lin@example.net", "sme")]
    assert "550" in failed[0]["error"]

    # Not retried by default (still reported, still failing the run) ...
    result = cli("send", "--project", project)
    assert result.exit_code == 1 and "--retry-failed" in result.stdout
    assert len(smtp.received) == 3
    # ... until asked, once the address works again.
    smtp.refuse.clear()
    result = cli("send", "--project", project, "--retry-failed")
    assert result.exit_code == 0, result.output
    assert sorted(pairs(smtp)) == sorted(EXPECTED)


def test_persistent_temporary_failure_is_left_pending_for_the_next_run(
    project, smtp, cli, monkeypatch
):
    smtp.faults["ada@example.gov"] = ["452 4.2.2 Mailbox full"] * 4
    for name, value in smtp_env(smtp, BRIEFS_SMTP_RETRIES="2").items():
        monkeypatch.setenv(name, value)
    result = cli("send", "--project", project)
    assert result.exit_code == 75
    assert "pending" in result.stdout and "452" in result.stdout
    assert ("ada@example.gov", "federal") not in pairs(smtp)
    assert len(smtp.received) == 3
    row = next(r for r in ledger_rows(project) if r["recipient"] == "ada@example.gov")
    assert row["status"] == "pending" and "452" in row["error"]

    smtp.faults.clear()
    result = cli("send", "--project", project)
    assert result.exit_code == 0, result.output
    assert sorted(pairs(smtp)) == sorted(EXPECTED)
    # The retry reused the pending delivery and its Message-ID.
    assert len(ledger_rows(project)) == 4


def test_an_unreachable_server_leaves_everything_pending(project, smtp):
    env = smtp_env(smtp, BRIEFS_SMTP_PORT=str(_free_port()))
    report = send(project, env)
    assert report.count("pending") == 4 and not report.ok
    assert all("server unavailable" in o.detail for o in report.outcomes)
    assert {r["status"] for r in ledger_rows(project)} == {"pending"}

    report = send(project, smtp_env(smtp))
    assert report.ok and report.count("sent") == 4
    assert sorted(pairs(smtp)) == sorted(EXPECTED)


def test_a_crash_between_messages_neither_loses_nor_repeats_one(project, smtp):
    calls = []

    def crash_on_third(message):
        calls.append(message)
        if len(calls) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        send_briefs(Project.at(project), SendOptions(), env=smtp_env(smtp), progress=crash_on_third)
    assert len(smtp.received) == 2
    report = send(project, smtp_env(smtp))
    assert report.count("sent") == 2
    assert sorted(pairs(smtp)) == sorted(EXPECTED)


def test_a_crash_after_acceptance_resends_under_the_same_message_id(project, smtp, monkeypatch):
    # The residual window: the server accepted the message, the ledger update did not
    # commit. The next run sends again, with the Message-ID the receiver already has.
    real = Ledger.mark_sent
    state = {"crashed": False}

    def crash_once(self, delivery_id):
        if not state["crashed"]:
            state["crashed"] = True
            raise KeyboardInterrupt
        real(self, delivery_id)

    monkeypatch.setattr(Ledger, "mark_sent", crash_once)
    with pytest.raises(KeyboardInterrupt):
        send(project, smtp_env(smtp))
    assert len(smtp.received) == 1
    assert ledger_rows(project)[0]["status"] == "sending"

    report = send(project, smtp_env(smtp))
    assert report.ok and "interrupted run" in report.outcomes[0].detail
    messages = received(smtp)
    assert len(messages) == 5
    assert messages[0][1]["Message-ID"] == messages[1][1]["Message-ID"]
    assert len({m["Message-ID"] for _r, m in messages}) == 4
    assert {r["status"] for r in ledger_rows(project)} == {"sent"}


# --- settings, credentials, review modes -------------------------------------------


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_login_works_and_the_password_is_never_printed(project, cli, monkeypatch):
    recorder = Recorder()

    def authenticator(server, session, envelope, mechanism, auth_data):
        recorder.logins.append(auth_data.login.decode())
        ok = (auth_data.login, auth_data.password) == (b"mailer", b"s3cret-Pa55")
        return AuthResult(success=ok, handled=False)  # aiosmtpd then answers 235/535

    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=_free_port(),
        authenticator=authenticator,
        auth_require_tls=False,
        auth_required=True,
    )
    controller.start()
    recorder.port = controller.port
    try:
        env = smtp_env(recorder, BRIEFS_SMTP_USER="mailer", BRIEFS_SMTP_PASSWORD="wrong-Pa55")
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        result = cli("send", "--project", project)
        assert result.exit_code == 75
        assert "login refused" in result.stdout
        assert "wrong-Pa55" not in result.output and recorder.received == []

        monkeypatch.setenv("BRIEFS_SMTP_PASSWORD", "s3cret-Pa55")
        result = cli("send", "--project", project)
        assert result.exit_code == 0, result.output
        assert "s3cret-Pa55" not in result.output
        assert sorted(pairs(recorder)) == sorted(EXPECTED)
        assert set(recorder.logins) == {"mailer"}
    finally:
        controller.stop()


def test_starttls_is_used_by_default(project, tmp_path, monkeypatch):
    import ssl

    # openssl makes a throwaway certificate (installed by `.ci/system-deps test`).
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    recorder = Recorder()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=_free_port(),
        tls_context=server_tls,
        require_starttls=True,
    )
    controller.start()
    recorder.port = controller.port
    try:
        env = smtp_env(recorder)
        del env["BRIEFS_SMTP_STARTTLS"]  # the default: on
        # The client trusts the system store; point it at the test certificate.
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        report = send(project, env)
        assert report.ok, [o.detail for o in report.outcomes]
        assert sorted(pairs(recorder)) == sorted(EXPECTED)
    finally:
        controller.stop()


def test_starttls_missing_is_a_clear_pending_error(project, smtp):
    env = smtp_env(smtp)
    del env["BRIEFS_SMTP_STARTTLS"]
    report = send(project, env)
    assert report.count("pending") == 4
    assert "does not offer STARTTLS" in report.outcomes[0].detail
    assert smtp.received == []


def test_without_smtp_settings_messages_go_to_the_outbox(project, smtp):
    report = send(project, {"BRIEFS_SITE_URL": "https://briefs.example.org/amp"})
    assert report.transport == "outbox" and report.count("written") == 4 and report.ok
    files = sorted((project / "output" / "outbox").glob("*.eml"))
    assert len(files) == 4
    briefs = manifest(project)
    for path in files:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        slug = msg["X-Briefs-Brief"]
        pdf = next(a for a in msg.iter_attachments() if a.get_content_type() == "application/pdf")
        assert (
            hashlib.sha256(pdf.get_payload(decode=True)).hexdigest()
            == briefs[slug]["files"]["pdf"]["sha256"]
        )
        # No BRIEFS_FROM: the series contact signs the review copies.
        assert msg["From"].addresses[0].addr_spec == "briefs@example.org"
        assert (
            f"https://briefs.example.org/amp/briefs/{slug}.html"
            in msg.get_body(("plain",)).get_content()
        )
    assert send(project, {}).outcomes == []
    # Writing to the outbox is not delivering: SMTP still sends everything once.
    assert send(project, smtp_env(smtp)).count("sent") == 4
    assert sorted(pairs(smtp)) == sorted(EXPECTED)


def test_dry_run_sends_and_writes_nothing(project, smtp, cli, monkeypatch):
    for name, value in smtp_env(smtp).items():
        monkeypatch.setenv(name, value)
    result = cli("send", "--project", project, "--dry-run")
    assert result.exit_code == 0, result.output
    assert [line.split()[:3] for line in result.stdout.splitlines()[:-1]] == [
        ["ada@example.gov", "federal", "would"],
        ["grace@example.com", "federal", "would"],
        ["grace@example.com", "sme", "would"],
        ["lin@example.net", "sme", "would"],
    ]
    assert "4 would send" in result.stdout
    assert smtp.received == []
    assert not (project / ".briefs").exists()
    assert not (project / "output" / "outbox").exists()


def test_audience_arguments_limit_what_is_sent(project, smtp):
    report = send(project, smtp_env(smtp), audiences=["sme"])
    assert report.count("sent") == 2
    assert sorted(pairs(smtp)) == [("grace@example.com", "sme"), ("lin@example.net", "sme")]


def test_send_before_build_says_to_build(mini_project, cli):
    (mini_project / "stakeholders.yaml").write_text(STAKEHOLDERS, "utf-8")
    result = cli("send", "--project", mini_project)
    assert result.exit_code == 1
    assert "run `briefs build` first" in result.stderr
    assert "Traceback" not in result.output


def test_a_title_with_a_line_break_cannot_inject_headers(project, smtp):
    path = project / "output" / "manifest.json"
    data = json.loads(path.read_text())
    data["briefs"]["sme"]["title"] = "Briefs\r\nBcc: everyone@example.org"
    path.write_text(json.dumps(data))
    with pytest.raises(Exception) as caught:
        send(project, smtp_env(smtp))
    assert "line break" in str(caught.value)
    assert smtp.received == []
    assert not (project / ".briefs").exists()


def test_an_attachment_changed_after_the_build_is_refused(project, smtp):
    pdf = project / "output" / "sme.pdf"
    pdf.write_bytes(pdf.read_bytes() + b"\n%tampered")
    with pytest.raises(Exception) as caught:
        send(project, smtp_env(smtp))
    assert "changed since it was built" in str(caught.value)
    assert smtp.received == []


# --- what a message says changed -------------------------------------------------


def test_changes_are_computed_against_the_recipients_last_copy():
    from policy_briefs.deliver.message import changes_since as compare

    before = {
        "a": ["Finding A", "build:1"],
        "b": ["Finding B", "build:2"],
        "c": ["Finding C", "text:3"],
    }
    after = {
        "a": ["Finding A", "build:1"],
        "b": ["Finding B, reworded", "build:9"],
        "c": ["Finding C", "build:3"],
        "d": ["Finding D", "build:4"],
    }
    changes = compare(before, after, ("a", "b", "c", "d"))
    assert changes.added == ["Finding D"]
    assert changes.edited == ["Finding B, reworded"]  # 'c' changed hash kind: not compared
    assert changes.removed == []
    assert changes.summary() == "findings 1 added, 1 edited"
    gone = compare(after, {"a": ["Finding A", "build:1"]}, ("a",))
    assert sorted(gone.removed) == ["Finding B, reworded", "Finding C", "Finding D"]
    assert compare(None, after, ("a",)).first
    same = compare(after, after, tuple(after))
    assert not same.findings_changed and same.summary() == "revised (same findings)"


def test_the_change_report_of_a_brief_is_quoted():
    from policy_briefs.changes import BriefChange, ChangeReport
    from policy_briefs.deliver.message import change_note
    from policy_briefs.manifest import BriefEntry

    report = ChangeReport(
        "the previous build",
        [
            BriefChange(
                "federal",
                "Test Briefs: Federal policymakers",
                "changed",
                rebuilt=True,
                findings_added=["x"],
            ),
            BriefChange("sme", "Test Briefs: Small and medium manufacturers", "unchanged"),
        ],
        {"finding:x": "X"},
    )
    # Delivery reads the report back from changes.json, which keeps the labels it names.
    report = ChangeReport.from_json(report.as_json())

    def entry(slug: str) -> BriefEntry:
        return BriefEntry(slug, slug, slug, False, {}, 2, [], [], "", {}, "")

    note = change_note(report, entry("federal"))
    assert note == (
        "Rebuilt; its files differ from the previous build.\n\n- Findings added:\n  - `x`: X"
    )
    assert change_note(report, entry("regional")) == ""
    assert change_note(None, entry("federal")) == ""


def test_a_file_that_is_not_a_ledger_is_refused(project, smtp, cli, monkeypatch):
    ledger = project / "ledger.sqlite"
    ledger.write_text("these are not the deliveries you are looking for\n" * 100)
    for name, value in smtp_env(smtp).items():
        monkeypatch.setenv(name, value)
    result = cli("send", "--project", project, "--ledger", ledger)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: ledger {ledger} cannot be used")
    assert smtp.received == []


def test_a_broken_mail_template_stops_the_run_before_anything_is_sent(
    project, smtp, cli, monkeypatch
):
    custom = project / "templates" / "mail" / "message.txt"
    custom.parent.mkdir(parents=True)
    custom.write_text("Dear {{ stakeholder.name }},\n{{ stakeholder.nickname }}\n")
    for name, value in smtp_env(smtp).items():
        monkeypatch.setenv(name, value)
    result = cli("send", "--project", project)
    assert result.exit_code == 1
    assert "templates/mail/message.txt:2:1: error: template:" in result.stderr
    assert "nickname" in result.stderr and "Traceback" not in result.output
    assert smtp.received == [] and not (project / ".briefs").exists()


@pytest.mark.parametrize(
    "env,message",
    [
        ({"BRIEFS_FROM": "Unit <briefs@example.org>\nBcc: all@example.org"}, "line break"),
        ({"BRIEFS_FROM": "briefs at example.org"}, "not a usable sender address"),
        ({"BRIEFS_SMTP_USER": "mailer"}, "set both BRIEFS_SMTP_USER and BRIEFS_SMTP_PASSWORD"),
        ({"BRIEFS_SMTP_PORT": "smtp"}, "BRIEFS_SMTP_PORT must be a number"),
        ({"BRIEFS_SMTP_RETRY_WAIT": "-1"}, "BRIEFS_SMTP_RETRY_WAIT must be between"),
        (
            {
                "BRIEFS_SMTP_HOST": "mail.example.org",
                "BRIEFS_SMTP_USER": "mailer",
                "BRIEFS_SMTP_PASSWORD": "s3cret-Pa55",
            },
            "refusing to send the SMTP password unencrypted",
        ),
    ],
)
def test_bad_settings_stop_the_run_before_anything_is_sent(project, smtp, env, message):
    from policy_briefs.errors import BriefsError

    with pytest.raises(BriefsError, match=message) as caught:
        send(project, smtp_env(smtp, **env))
    assert "s3cret-Pa55" not in str(caught.value)
    assert smtp.received == [] and not (project / ".briefs").exists()


# --- the ledger: never taken for new when it is empty, foreign or damaged -----------


def _cli_send(cli, monkeypatch, smtp, project, *args):
    for name, value in smtp_env(smtp).items():
        monkeypatch.setenv(name, value)
    return cli("send", "--project", project, *args)


def test_an_empty_ledger_is_refused_until_a_new_one_is_asked_for(project, smtp, cli, monkeypatch):
    assert send(project, smtp_env(smtp)).ok
    ledger = project / ".briefs" / "ledger.sqlite"
    ledger.write_bytes(b"")  # e.g. truncated by a full disk or a bad restore
    result = _cli_send(cli, monkeypatch, smtp, project)
    assert result.exit_code == 1
    assert f"ledger {ledger} is empty (0 bytes)" in result.stderr
    assert "--new-ledger" in result.stderr
    assert len(smtp.received) == 4  # nothing sent again
    assert ledger.read_bytes() == b""  # and nothing written

    result = _cli_send(cli, monkeypatch, smtp, project, "--new-ledger")
    assert result.exit_code == 0, result.output
    assert "new ledger, the old one kept as" in result.stdout
    assert len(smtp.received) == 8  # deliberately, everything again
    kept = list(ledger.parent.glob("ledger.sqlite.replaced-*"))
    assert [p.read_bytes() for p in kept] == [b""]


def test_new_ledger_never_replaces_a_sound_one(project, smtp, cli, monkeypatch):
    assert send(project, smtp_env(smtp)).ok
    result = _cli_send(cli, monkeypatch, smtp, project, "--new-ledger")
    assert result.exit_code == 1
    assert "is sound and records 4 deliveries" in result.stderr
    assert len(smtp.received) == 4


def test_a_damaged_ledger_is_refused_with_a_clear_error(project, smtp, cli, monkeypatch):
    # A ledger of several pages, then its tail overwritten.
    (project / "stakeholders.yaml").write_text(
        "stakeholders:\n"
        + "".join(
            f"  - name: Reader {i}\n    email: reader{i}@example.org\n    audiences: [sme]\n"
            for i in range(60)
        ),
        "utf-8",
    )
    assert send(project, smtp_env(smtp)).ok
    ledger = project / ".briefs" / "ledger.sqlite"
    data = bytearray(ledger.read_bytes())
    assert len(data) > 3 * 4096
    data[-4096:] = b"\xff" * 4096
    ledger.write_bytes(bytes(data))
    received = len(smtp.received)
    result = _cli_send(cli, monkeypatch, smtp, project)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"error: ledger {ledger} ")
    assert "damaged" in result.stderr or "cannot be used" in result.stderr
    assert "Traceback" not in result.output
    assert len(smtp.received) == received


def test_a_sqlite_file_that_is_not_a_ledger_is_refused(project, smtp, cli, monkeypatch):
    ledger = project / "other.sqlite"
    with sqlite3.connect(ledger) as db:
        db.execute("CREATE TABLE notes (text TEXT)")
    result = _cli_send(cli, monkeypatch, smtp, project, "--ledger", ledger)
    assert result.exit_code == 1
    assert "is a SQLite file but not a briefs ledger" in result.stderr
    assert smtp.received == []
    with sqlite3.connect(ledger) as db:  # left as it was
        assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["notes"]

    # A table of the right name but another shape, at the right version, is no better.
    with sqlite3.connect(ledger) as db:
        db.execute("CREATE TABLE deliveries (id INTEGER, who TEXT)")
        db.execute("PRAGMA user_version = 1")
    result = _cli_send(cli, monkeypatch, smtp, project, "--ledger", ledger)
    assert result.exit_code == 1 and "not a briefs ledger" in result.stderr


def test_a_ledger_reached_through_a_symlink_is_locked_by_its_real_path(project, tmp_path):
    real = tmp_path / "store" / "ledger.sqlite"
    real.parent.mkdir()
    link = tmp_path / "link.sqlite"
    link.symlink_to(real)
    with Ledger(real):
        with pytest.raises(BriefsError, match="busy in another process"):
            Ledger(link, lock_timeout=0.2)
    with Ledger(link) as ledger:  # free again
        assert ledger.path == link


def test_a_sqlite_error_mid_run_is_a_message_not_an_internal_error(project, smtp, cli, monkeypatch):
    def broken(self, delivery_id):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(Ledger, "mark_sent", broken)
    result = _cli_send(cli, monkeypatch, smtp, project)
    assert result.exit_code == 1, result.output
    assert "disk I/O error" in result.stderr and "the next run resumes" in result.stderr
    assert "Traceback" not in result.output


# --- mail hygiene: list headers, unsubscribing, charsets, no From-mangling ----------


def test_messages_carry_list_headers_and_a_mailto_unsubscribe(project, smtp):
    assert send(project, smtp_env(smtp)).ok
    for rcpt, msg in received(smtp):
        assert msg["List-Id"] == "Test Briefs <test-briefs.example.org>"
        unsubscribe = str(msg["List-Unsubscribe"]).strip()
        quoted = rcpt.replace("@", "%40")
        assert unsubscribe == f"<mailto:briefs@example.org?subject=unsubscribe%20{quoted}>"
        # No one-click promise without an https address that can keep it (RFC 8058).
        assert msg["List-Unsubscribe-Post"] is None


def test_an_unsubscribe_url_adds_one_click_unsubscribe(project, smtp):
    path = project / "output" / "manifest.json"
    data = json.loads(path.read_text("utf-8"))
    data["publication"]["unsubscribe_url"] = "https://briefs.example.org/unsubscribe"
    path.write_text(json.dumps(data), "utf-8")
    assert send(project, smtp_env(smtp)).ok
    for rcpt, msg in received(smtp):
        links = [part.strip() for part in str(msg["List-Unsubscribe"]).split(",")]
        quoted = rcpt.replace("@", "%40")
        assert links[0] == f"<https://briefs.example.org/unsubscribe?email={quoted}>"
        assert links[1].startswith("<mailto:")
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_text_attachments_say_their_charset_and_nothing_is_from_mangled(project, smtp):
    mail = project / "templates" / "mail"
    mail.mkdir(parents=True, exist_ok=True)
    (mail / "message.txt").write_text("Dear {{ stakeholder.name }},\nFrom the unit: hello.\n")
    assert send(project, smtp_env(smtp)).ok
    raw = [content for _f, rcpts, content in smtp.received if rcpts == ["grace@example.com"]]
    assert raw and all(b">From" not in content for content in raw)
    for rcpt, msg in received(smtp):
        plain = msg.get_body(("plain",))
        assert plain is not None and "\nFrom the unit: hello." in plain.get_content()
        for part in msg.iter_attachments():
            if part.get_content_maintype() == "text":
                assert part.get_content_charset() == "utf-8", (rcpt, part.get_filename())
    html = [
        part
        for _rcpt, msg in received(smtp)
        for part in msg.iter_attachments()
        if part.get_filename() == "sme.html"
    ]
    assert html  # Grace receives both formats


def test_an_unsubscribed_stakeholder_gets_nothing_and_the_ledger_says_so(project, smtp, cli):
    path = project / "stakeholders.yaml"
    text = path.read_text("utf-8")
    ada = "    audiences: [federal]\n"
    path.write_text(text.replace(ada, ada + "    unsubscribed: true\n", 1), "utf-8")
    dry = cli("send", "--project", project, "--dry-run")
    assert "ada@example.gov" in dry.stdout and "unsubscribed" in dry.stdout
    report = send(project, smtp_env(smtp))
    assert report.ok and report.count("unsubscribed") == 1
    assert ("ada@example.gov", "federal") not in pairs(smtp)
    assert sorted(pairs(smtp)) == sorted(EXPECTED - {("ada@example.gov", "federal")})
    with sqlite3.connect(project / ".briefs" / "ledger.sqlite") as db:
        rows = db.execute("SELECT recipient, since FROM unsubscribed").fetchall()
    assert [r[0] for r in rows] == ["ada@example.gov"] and rows[0][1].endswith("Z")

    # Back on the list: the record is cleared and the brief goes out.
    path.write_text(text, "utf-8")
    assert send(project, smtp_env(smtp)).ok
    assert ("ada@example.gov", "federal") in pairs(smtp)
    with sqlite3.connect(project / ".briefs" / "ledger.sqlite") as db:
        assert db.execute("SELECT count(*) FROM unsubscribed").fetchone()[0] == 0


def test_a_version_1_ledger_is_upgraded_in_place(project, smtp):
    assert send(project, smtp_env(smtp)).ok
    ledger = project / ".briefs" / "ledger.sqlite"
    with sqlite3.connect(ledger) as db:  # as an earlier release left it
        db.execute("DROP TABLE unsubscribed")
        db.execute("PRAGMA user_version = 1")
        db.execute("PRAGMA application_id = 0")
    report = send(project, smtp_env(smtp))
    assert report.ok and report.up_to_date == 4 and len(smtp.received) == 4
    with sqlite3.connect(ledger) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
