"""What XML 1.0 can carry: the characters its `Char` production (§2.2) forbids.

A notice's text ends up in CAP and Atom documents. ElementTree escapes `&`, `<`
and `>` (so `]]>` is harmless), but writes control characters as they are,
which makes the document unparsable: the `notice` command refuses them, and
the XML builders strip them from anything else they are given.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["XML_FORBIDDEN", "xml_safe"]

# C0 controls but tab, LF and CR; lone surrogates; the two non-characters U+FFFE/U+FFFF.
XML_FORBIDDEN: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """`text` without the characters XML 1.0 cannot represent."""
    return XML_FORBIDDEN.sub("", text)
