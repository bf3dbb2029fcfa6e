"""`SmtpMailer`: the notifications port over SMTP (aiosmtplib), with Jinja2 templates.

Each (kind, audience) has a plain-text and an HTML template under `templates/mail/`: `<kind>.<audience>`
when that audience reads something different, else `<kind>`. The exporter's `nopic_issued` carries one
sealed PDF per certificate. The Message-ID is derived from the notification's event id, so a message sent
again by a retried activity is recognisably the same message.

SMTP delivers at least once, never exactly once: once the server has answered 250 to DATA the message is
out, and a sender cut off before it records that cannot know it went. So each message goes in one session
of its own (connect, MAIL, RCPT, DATA, QUIT), and the `Delivery` the notifications activity passes in hears
of each step that matters: just before the transaction, right after the server's 250 to DATA (before QUIT,
whose reply changes nothing), and when a failure proves the message did not leave. A repeat, when a send is
cut off in between, is the same message: same Message-ID, subject and recipients.
"""

from __future__ import annotations

import asyncio
import hashlib
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, localtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiosmtplib
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, TemplateNotFound

from activities.digest import Digest
from activities.notifications import (
    Audience,
    Delivery,
    Notification,
    NotificationKind,
    NotificationUndeliverable,
    Sent,
)
from activities.pdf import NopicPdfs
from core.logging import get_logger
from core.settings import Settings

log = get_logger(__name__)

TEMPLATES = Path(__file__).parent / "templates" / "mail"


def message_id(event_id: str, mail_from: str) -> str:
    """`<hash of the event id @ sender's domain>`: the same event always gives the same Message-ID."""
    domain = mail_from.rpartition("@")[2] or "nopic.invalid"
    return f"<{hashlib.sha256(event_id.encode()).hexdigest()[:40]}@{domain}>"


class MailTemplates:
    """Subject, plain text and HTML of a message, rendered from the templates of its kind and audience."""

    def __init__(self, certifier_name: str, timezone: str, directory: Path = TEMPLATES) -> None:
        zone = ZoneInfo(timezone)

        def local(moment: datetime) -> str:
            return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")

        common: dict[str, Any] = {
            "loader": FileSystemLoader(directory),
            "undefined": StrictUndefined,
            "trim_blocks": True,
            "lstrip_blocks": True,
        }
        self._text = Environment(autoescape=False, **common)  # plain text: nothing to escape
        self._html = Environment(autoescape=True, **common)
        for env in (self._text, self._html):
            env.filters["local"] = local
            env.globals["certifier"] = certifier_name

    def render(self, name: str, context: dict[str, Any]) -> tuple[str, str, str]:
        """(subject, text, html) of template `name` (without extension)."""
        text_template = self._text.get_template(f"{name}.txt")
        subject = _render_block(text_template, "subject", context).strip()
        text = text_template.render(context)
        html = self._html.get_template(f"{name}.html").render({**context, "subject": subject})
        return " ".join(subject.split()), text, html

    def template_for(self, kind: str, audience: str) -> str:
        for name in (f"{kind}.{audience}", kind):
            try:
                self._text.get_template(f"{name}.txt")
            except TemplateNotFound:
                continue
            return name
        raise LookupError(f"no mail template for {kind} to {audience}")


def _render_block(template: Template, block: str, context: dict[str, Any]) -> str:
    return "".join(template.blocks[block](template.new_context(context)))


class SmtpMailer:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.templates = MailTemplates(settings.certifier_name, settings.timezone)
        self._pdfs = NopicPdfs.from_settings(settings)
        # Rendering (templates, and the NOPIC PDFs) is CPU work of tens of milliseconds: done beside the
        # worker's event loop, one message at a time, so workflow tasks and other activities go on meanwhile.
        self._composer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mail-compose")

    def recipients(self, notification: Notification) -> list[str]:
        match notification.audience:
            case Audience.REVIEW_TEAM:
                return [self._settings.review_team_email]
            case Audience.EXPORTER:
                return [str(notification.form.exporter.email)]
            case Audience.IMPORTER:
                return [str(notification.form.importer.email)]

    def compose(self, notification: Notification) -> EmailMessage:
        try:
            name = self.templates.template_for(notification.kind, notification.audience)
        except LookupError as error:
            raise NotificationUndeliverable(str(error)) from error
        subject, text, html = self.templates.render(name, {"n": notification})
        return self.build(
            event_id=notification.event_id,
            to=self.recipients(notification),
            subject=subject,
            text=text,
            html=html,
            headers={"X-Nopic-Request-Id": notification.request_id, "X-Nopic-Kind": str(notification.kind)},
            attachments=self._attachments(notification),
        )

    def build(
        self,
        *,
        event_id: str,
        to: list[str],
        subject: str,
        text: str,
        html: str,
        headers: dict[str, str] | None = None,
        attachments: list[tuple[str, bytes]] | None = None,
    ) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._settings.mail_from
        message["To"] = ", ".join(to)
        message["Subject"] = subject
        message["Date"] = format_datetime(localtime())
        message["Message-ID"] = message_id(event_id, self._settings.mail_from)
        message["X-Nopic-Event-Id"] = event_id
        for key, value in (headers or {}).items():
            message[key] = value
        message.set_content(text)
        message.add_alternative(html, subtype="html")
        for filename, pdf in attachments or []:
            message.add_attachment(pdf, maintype="application", subtype="pdf", filename=filename)
        return message

    def _attachments(self, notification: Notification) -> list[tuple[str, bytes]]:
        certificates = notification.certificates
        if notification.audience is not Audience.EXPORTER:
            return []
        if notification.kind is NotificationKind.NOPIC_REPLACED:
            certificates = certificates[:1]  # the new NOPIC's; the old one's is no longer valid
        elif notification.kind is not NotificationKind.NOPIC_ISSUED:
            return []
        return [
            (
                f"NOPIC-{certificate.number}.pdf",
                self._pdfs.sealed(notification.request_id, certificate, notification.form),
            )
            for certificate in certificates
            if certificate.number is not None
        ]

    async def send(self, notification: Notification, delivery: Delivery | None = None) -> Sent:
        message = await asyncio.get_running_loop().run_in_executor(self._composer, self.compose, notification)
        await self.deliver(message, delivery)
        log.info(
            "mail.sent",
            event_id=notification.event_id,
            kind=str(notification.kind),
            audience=str(notification.audience),
            message_id=message["Message-ID"],
        )
        return Sent(event_id=notification.event_id, recipients=self.recipients(notification))

    async def send_digest(self, digest: Digest, delivery: Delivery | None = None) -> Sent:
        subject, text, html = self.templates.render("digest", {"d": digest})
        to = [self._settings.review_team_email]
        message = self.build(
            event_id=digest.event_id,
            to=to,
            subject=subject,
            text=text,
            html=html,
            headers={"X-Nopic-Kind": "daily_digest"},
        )
        await self.deliver(message, delivery)
        return Sent(event_id=digest.event_id, recipients=to)

    async def deliver(self, message: EmailMessage, delivery: Delivery | None = None) -> None:
        """Hand the message to the configured SMTP server. A 5xx is final; anything else may be retried.

        `delivery`, when given, hears `sending` before the connection opens, `accepted` as soon as the
        server has taken the message, and `not_sent` when the failure proves it did not leave."""
        settings = self._settings
        recipients = [address for _, address in getaddresses(message.get_all("To", []))]
        client = aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            start_tls=settings.smtp_starttls,
            use_tls=False,
            cert_bundle=str(settings.smtp_ca_file) if settings.smtp_ca_file else None,
            timeout=settings.smtp_timeout_seconds,
        )
        if delivery is not None:
            await delivery.sending()
        try:
            await _transaction(client, message, recipients, delivery)
            if delivery is not None:
                await delivery.accepted(recipients)
        finally:
            await _quit(client)


async def _transaction(
    client: aiosmtplib.SMTP, message: EmailMessage, recipients: list[str], delivery: Delivery | None
) -> None:
    """Connect (EHLO, STARTTLS, login), then MAIL, RCPT and DATA; returns once the server took the message."""
    connected = False
    try:
        await client.connect()
        connected = True
        await client.send_message(message, recipients=recipients)
    except Exception as error:
        # Before the connection stood, nothing was sent; a reply (4xx, 5xx) refuses the message. Only a
        # connection broken or silent in mid-transaction leaves open whether the server took it.
        if delivery is not None and not (connected and isinstance(error, OSError)):
            await delivery.not_sent()
        if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
            if all(refused.code >= 500 for refused in error.recipients):
                refusals = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in error.recipients)
                raise NotificationUndeliverable(f"SMTP server refused every recipient: {refusals}") from error
        elif isinstance(error, aiosmtplib.SMTPResponseException) and error.code >= 500:
            refusal = f"SMTP server refused the message: {error.code} {error.message}"
            raise NotificationUndeliverable(refusal) from error
        raise


async def _quit(client: aiosmtplib.SMTP) -> None:
    """End the session politely if it still stands; the message's fate no longer depends on it."""
    if client.is_connected:
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError):
            pass
    client.close()
