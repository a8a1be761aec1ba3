"""Where messages go: an outbox folder of .eml files (the default), or an SMTP server.

SMTP settings and credentials come only from the environment and never appear in any
message this module raises or prints. Failures are sorted into two kinds: temporary
(4xx replies, dropped connections, timeouts: try again later) and permanent (5xx: the
server will not take this message, trying again will not help).
"""

from __future__ import annotations

import ipaddress
import re
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path

from ..errors import BriefsError
from ..files import write_atomic
from .message import wire_bytes

ENV_HOST = "BRIEFS_SMTP_HOST"
ENV_PORT = "BRIEFS_SMTP_PORT"
ENV_USER = "BRIEFS_SMTP_USER"
ENV_PASSWORD = "BRIEFS_SMTP_PASSWORD"
ENV_STARTTLS = "BRIEFS_SMTP_STARTTLS"
ENV_FROM = "BRIEFS_FROM"
ENV_TIMEOUT = "BRIEFS_SMTP_TIMEOUT"
ENV_RETRIES = "BRIEFS_SMTP_RETRIES"
ENV_RETRY_WAIT = "BRIEFS_SMTP_RETRY_WAIT"


class TemporaryFailure(Exception):
    """Worth trying again: a 4xx reply, a dropped connection, a timeout."""

    def __init__(self, message: str, *, retry_now: bool = True):
        super().__init__(message)
        # False when waiting a few seconds cannot help (a refused login, no STARTTLS):
        # the delivery is left pending for a run with corrected settings.
        self.retry_now = retry_now


class ServerUnavailable(TemporaryFailure):
    """No usable session at all (cannot connect, TLS or login refused): later messages
    would fail the same way, so the run stops trying and leaves them pending."""


class PermanentFailure(Exception):
    """The server refused this message for good (5xx)."""


@dataclass(frozen=True)
class Retry:
    """How often and how patiently temporary failures are retried within one run."""

    attempts: int = 4
    wait: float = 2.0  # seconds before the first retry; doubles each time, capped

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Retry:
        attempts = _number(env, ENV_RETRIES, int, cls.attempts, low=1, high=20)
        wait = _number(env, ENV_RETRY_WAIT, float, cls.wait, low=0, high=600)
        return cls(int(attempts), float(wait))


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    starttls: bool
    implicit_tls: bool
    user: str | None
    password: str | None = field(repr=False)
    timeout: float

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SmtpSettings | None:
        """The SMTP settings, or None when BRIEFS_SMTP_HOST is not set (use the outbox)."""
        host = env.get(ENV_HOST, "").strip()
        if not host:
            return None
        if not re.match(r"^[A-Za-z0-9.:\[\]-]+$", host):
            raise BriefsError(f"{ENV_HOST} must be a host name or address")
        starttls = env.get(ENV_STARTTLS, "1").strip().lower() not in ("0", "false", "no", "off")
        port = int(_number(env, ENV_PORT, int, 587 if starttls else 25, low=1, high=65535))
        implicit_tls = port == 465  # SMTPS: TLS from the first byte, no STARTTLS
        user = env.get(ENV_USER) or None
        password = env.get(ENV_PASSWORD) or None
        if bool(user) != bool(password):
            raise BriefsError(f"set both {ENV_USER} and {ENV_PASSWORD}, or neither")
        if user and not (starttls or implicit_tls) and not _is_loopback(host):
            raise BriefsError(
                f"refusing to send the SMTP password unencrypted to {host}: "
                f"remove {ENV_STARTTLS}=0 or use a relay on this machine"
            )
        timeout = _number(env, ENV_TIMEOUT, float, 30.0, low=1, high=600)
        return cls(
            host, port, starttls and not implicit_tls, implicit_tls, user, password, float(timeout)
        )

    def describe(self) -> str:
        security = "TLS" if self.implicit_tls else "STARTTLS" if self.starttls else "no encryption"
        login = ", with login" if self.user else ""
        return f"smtp://{self.host}:{self.port} ({security}{login})"


def _number(env: Mapping[str, str], name: str, kind, default, *, low, high):
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise BriefsError(f"{name} must be a number, not '{raw}'") from None
    if not low <= value <= high:
        raise BriefsError(f"{name} must be between {low} and {high}, not {raw}")
    return value


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class OutboxTransport:
    """Messages as .eml files for review; writing one is safe to repeat (same name)."""

    name = "outbox"

    def __init__(self, folder: Path):
        self.folder = folder

    def describe(self) -> str:
        return f"outbox {self.folder}"

    def file_for(self, brief: str, sha256: str, recipient: str) -> Path:
        who = re.sub(r"[^A-Za-z0-9@._+-]", "_", recipient)
        return self.folder / f"{brief}-{sha256[:12]}-{who}.eml"

    def send(
        self, message: EmailMessage, *, sender: Address, recipient: str, brief: str, sha256: str
    ) -> None:
        try:
            write_atomic(self.file_for(brief, sha256, recipient), message.as_bytes())
        except OSError as exc:
            raise PermanentFailure(f"cannot write to the outbox: {exc.strerror}") from None

    def close(self) -> None:
        pass


class SmtpTransport:
    """One SMTP session reused for every message, reopened after a dropped connection."""

    name = "smtp"

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def describe(self) -> str:
        return self.settings.describe()

    def send(
        self, message: EmailMessage, *, sender: Address, recipient: str, brief: str, sha256: str
    ) -> None:
        smtp = self._session()
        try:
            international = not (sender.addr_spec + recipient).isascii()
            options = ["SMTPUTF8", "BODY=8BITMIME"] if international else []
            refused = smtp.sendmail(
                sender.addr_spec,
                [recipient],
                wire_bytes(message, utf8=international),
                mail_options=options,
            )
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise _by_code(code, reply, "recipient refused") from None
        except smtplib.SMTPSenderRefused as exc:
            raise _by_code(exc.smtp_code, exc.smtp_error, "sender refused") from None
        except smtplib.SMTPServerDisconnected as exc:
            self._drop()
            raise TemporaryFailure(f"connection dropped ({exc or 'no reason given'})") from None
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code == 421:  # the server is closing the session
                self._drop()
            raise _by_code(exc.smtp_code, exc.smtp_error, "refused") from None
        except (TimeoutError, ConnectionError, ssl.SSLError) as exc:
            self._drop()
            raise TemporaryFailure(f"connection failed ({type(exc).__name__}: {exc})") from None
        except smtplib.SMTPException as exc:
            self._drop()
            raise TemporaryFailure(f"SMTP error ({exc})") from None
        if refused:  # only possible with several recipients; kept for completeness
            code, reply = next(iter(refused.values()))
            raise _by_code(code, reply, "recipient refused")

    def _session(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        s = self.settings
        context = ssl.create_default_context()
        try:
            smtp: smtplib.SMTP
            if s.implicit_tls:
                smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        except (OSError, smtplib.SMTPException) as exc:
            raise ServerUnavailable(
                f"cannot connect to {s.host}:{s.port} ({_reason(exc)})"
            ) from None
        try:
            smtp.ehlo()
            if s.starttls:
                if not smtp.has_extn("starttls"):
                    raise ServerUnavailable(
                        f"{s.host} does not offer STARTTLS; for a relay on this machine "
                        f"set {ENV_STARTTLS}=0",
                        retry_now=False,
                    )
                smtp.starttls(context=context)
                smtp.ehlo()
            if s.user:
                smtp.login(s.user, s.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            _quit(smtp)
            raise ServerUnavailable(
                f"login refused by {s.host} ({exc.smtp_code}); check {ENV_USER} and {ENV_PASSWORD}",
                retry_now=False,
            ) from None
        except ServerUnavailable:
            _quit(smtp)
            raise
        except ssl.SSLCertVerificationError as exc:
            _quit(smtp)
            raise ServerUnavailable(
                f"the TLS certificate of {s.host} is not trusted ({exc.verify_message})",
                retry_now=False,
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            _quit(smtp)
            raise ServerUnavailable(
                f"cannot open a session with {s.host} ({_reason(exc)})"
            ) from None
        self._smtp = smtp
        return smtp

    def _drop(self) -> None:
        if self._smtp is not None:
            _quit(self._smtp)
            self._smtp = None

    def close(self) -> None:
        self._drop()


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _text(reply: bytes | str) -> str:
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", errors="replace")
    return " ".join(reply.split())


def _by_code(code: int, reply: bytes | str, what: str) -> Exception:
    message = f"{what}: {code} {_text(reply)}"
    if 400 <= code < 500:
        return TemporaryFailure(message)
    if 500 <= code < 600:
        return PermanentFailure(message)
    return TemporaryFailure(message)  # an odd reply: safer to try again than to give up
