"""The site's Atom feed: one entry per brief version, newest first (RFC 4287)."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET

from .. import __version__
from ..models import Publication
from .facts import display_date
from .history import Version

FEED = "feed.xml"
ATOM = "http://www.w3.org/2005/Atom"
_NAMESPACE = uuid.UUID("5b0c3d2e-6f1a-4f55-9a57-2f0d3c1e8b71")  # this tool's ids


def entry_id(slug: str, sha256: str) -> str:
    """The Atom id of one brief version: the same brief bytes always get the same id."""
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'brief:{slug}:{sha256}')}"


def atom_feed(pub: Publication, versions: list[Version], base_url: str | None) -> bytes:
    ET.register_namespace("", ATOM)

    def sub(parent, tag, text=None, **attrs):
        element = ET.SubElement(
            parent, f"{{{ATOM}}}{tag}", {k.rstrip("_"): v for k, v in attrs.items()}
        )
        if text is not None:
            element.text = text
        return element

    def href(path: str) -> str:
        return (base_url + path) if base_url else path

    feed = ET.Element(f"{{{ATOM}}}feed")
    feed.set("{http://www.w3.org/XML/1998/namespace}lang", pub.language)
    sub(feed, "id", f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'feed:{pub.series}')}")
    sub(feed, "title", pub.series)
    sub(feed, "subtitle", f"Policy briefs published by {pub.publisher}")
    ordered = sorted(versions, key=lambda v: (v.first_seen, v.slug), reverse=True)
    sub(feed, "updated", ordered[0].first_seen)
    author = sub(feed, "author")
    sub(author, "name", pub.publisher)
    if pub.contact and "@" in pub.contact:
        sub(author, "email", pub.contact)
    sub(feed, "link", rel="alternate", type="text/html", href=href("index.html"))
    if base_url:
        sub(feed, "link", rel="self", type="application/atom+xml", href=href(FEED))
    sub(feed, "generator", "policy-briefs", version=__version__)
    if pub.licence:
        sub(feed, "rights", pub.licence)
    for version in ordered:
        entry = sub(feed, "entry")
        sub(entry, "id", entry_id(version.slug, version.sha256))
        sub(
            entry,
            "title",
            f"{version.title} (version {version.number})" if version.number else version.title,
        )
        sub(entry, "updated", version.first_seen)
        sub(entry, "published", version.first_seen)
        main = version.files.get("html") or version.files["pdf"]
        sub(
            entry,
            "link",
            rel="alternate",
            type="text/html" if "html" in version.files else "application/pdf",
            href=href(main["path"]),
        )
        if "pdf" in version.files:
            pdf = version.files["pdf"]
            sub(
                entry,
                "link",
                rel="enclosure",
                type="application/pdf",
                length=str(pdf["bytes"]),
                href=href(pdf["path"]),
            )
        sub(entry, "category", term=version.audience, label=version.audience_title)
        # An older versions.json knows a version by its bytes only.
        number = version.number or f"of {version.sha256[:12]}"
        sub(
            entry,
            "summary",
            f"{version.summary} (version {number}, {display_date(version.date)})".strip(),
        )
    ET.indent(feed)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"
