"""The Atom feed (RFC 4287) of a town's current notices, as CAP alerting channels read it.

Each entry stands for one CAP document: `atom:id` is the CAP file's address,
its `alternate` link has `type="application/cap+xml"`, and `cap:` elements
repeat what a reader filters on without fetching the file (the usual CAP
index feed: identifier, sender, sent, expires, event, urgency, severity,
certainty, area). Pure: notices in, bytes out.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from typing import Final

from hub.core.cap import (
    CAP_CONTENT_TYPE,
    CAP_NS,
    Issuer,
    PublicNotice,
    cap_alert,
    cap_time,
)
from hub.core.xmltext import xml_safe

__all__ = ["ATOM_CONTENT_TYPE", "ATOM_NS", "notices_feed"]

ATOM_NS: Final = "http://www.w3.org/2005/Atom"
ATOM_CONTENT_TYPE: Final = "application/atom+xml"
# The CAP elements an entry repeats (in the alert's own order): what a reader filters on.
_ENTRY_CAP: Final = frozenset(
    f"{{{CAP_NS}}}{tag}"
    for tag in (
        "identifier", "sender", "sent", "status", "msgType", "scope", "event", "urgency",
        "severity", "certainty", "expires", "areaDesc", "polygon",
    )
)  # fmt: skip
_TITLE: Final = {"fr": "{town} : avis en cours", "en": "{town}: current notices"}

ET.register_namespace("cap", CAP_NS)  # the prefix CAP feeds use, instead of ns0


def _atom(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    child = ET.SubElement(parent, tag, attrs)
    if text is not None:
        child.text = xml_safe(text)
    return child


def _entry(feed: ET.Element, notice: PublicNotice, issuer: Issuer, cap_url: str) -> None:
    alert = cap_alert(notice, issuer)
    headline = alert.findtext(f"{{{CAP_NS}}}info/{{{CAP_NS}}}headline", "")
    entry = _atom(feed, "entry")
    _atom(entry, "id", cap_url)
    _atom(entry, "title", headline)
    _atom(entry, "updated", cap_time(notice.at_ms, issuer.timezone))
    _atom(entry, "published", cap_time(notice.at_ms, issuer.timezone))
    _atom(entry, "summary", notice.text)
    _atom(entry, "link", rel="alternate", type=CAP_CONTENT_TYPE, href=cap_url)
    entry.extend([element for element in alert.iter() if element.tag in _ENTRY_CAP])


def notices_feed(
    notices: Sequence[PublicNotice],
    issuer: Issuer,
    *,
    feed_url: str,
    cap_url: Callable[[str], str],
    now_ms: int,
) -> bytes:
    """The feed of `notices` (newest first); `cap_url(id)` is a notice's CAP address."""
    # Atom is the default namespace, declared by hand: ElementTree's
    # `default_namespace` refuses the unqualified attributes (rel, href) Atom uses.
    feed = ET.Element("feed", xmlns=ATOM_NS)
    _atom(feed, "id", feed_url)
    language = issuer.language.split("-", 1)[0].lower()
    _atom(feed, "title", _TITLE.get(language, _TITLE["en"]).format(town=issuer.town))
    latest = max((n.at_ms for n in notices), default=now_ms)
    _atom(feed, "updated", cap_time(latest, issuer.timezone))
    author = _atom(feed, "author")
    _atom(author, "name", issuer.town)
    _atom(feed, "link", rel="self", type=ATOM_CONTENT_TYPE, href=feed_url)
    for notice in notices:
        _entry(feed, notice, issuer, cap_url(notice.id))
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document
