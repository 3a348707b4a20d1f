"""Text that people write into the record (chat messages, reasons): bounded in length,
without control characters (an ANSI escape would be replayed on every terminal that
prints the chat) or bidirectional overrides (they disguise what a text says)."""

from __future__ import annotations

import unicodedata

from ..errors import InvalidArgumentError

MAX_MESSAGE_CHARS = 5000
"""Longest chat message or reason accepted."""

_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def check_message(text: str, what: str = "the message", max_chars: int = MAX_MESSAGE_CHARS) -> str:
    """The text stripped (line endings as `\\n`), or InvalidArgumentError naming the problem."""
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise InvalidArgumentError(f"{what} must not be empty")
    if len(text) > max_chars:
        raise InvalidArgumentError(f"{what} is {len(text)} characters long, more than the limit of {max_chars}")
    for i, ch in enumerate(text):
        if ch in "\n\t":
            continue
        if unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS:
            raise InvalidArgumentError(f"{what} holds a control character (U+{ord(ch):04X} at position {i}); send plain text")
    return text


def clean_message(text: str) -> str:
    """Text from outside that cannot be refused to its writer (an e-mail reply): control
    characters and bidirectional overrides removed (a tab and line breaks stay, as `\n`)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(ch for ch in text if ch in "\n\t" or not (unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS))
