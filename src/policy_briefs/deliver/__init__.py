"""Delivery to stakeholders: who gets which brief (stakeholders), the message, the
transport (SMTP or an outbox), the ledger of what was delivered, and the send run."""

from .send import SendOptions, SendReport, send_briefs

__all__ = ["SendOptions", "SendReport", "send_briefs"]
