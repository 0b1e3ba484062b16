"""Provider secrets never leave the process, even when a provider echoes them back.

Some providers quote the credential in their own error text (``invalid x-api-key: sk-…``) or
headers. Everything the gateway derives from a provider response — error messages, recorded raw
responses and headers, log lines, spill files — passes through :class:`Redactor` first, which
replaces every configured key value and its obvious encodings with ``[redacted]``.

Key values are read from the environment variables the config names, and re-read when they
change, because providers read their key at call time (rotation needs no reload). Values
shorter than :data:`MIN_SECRET_CHARS` are ignored: redacting ``"abc"`` everywhere would mangle
ordinary text and such a value is no credential. See docs/security.md.

One redactor is built per config version, for the keys of all its providers
(:func:`app.providers.registry.build_providers`), and given to every HTTP provider, which
passes each response body, stream event and error text through it before anything else sees
them, then the translated answer's text (:meth:`Redactor.completion`) or, streamed, each text
delta through a :class:`StreamScrubber` (a key split across events). A provider never answers
with another provider's key unredacted either.
"""

from __future__ import annotations

import base64
import builtins
import os
import urllib.parse
from collections.abc import Iterable, Mapping

from app.wire.response import (
    ChatCompletion,
    ChatCompletionChunk,
    ChunkChoice,
    Delta,
    FunctionCall,
    ToolCallDelta,
)

REDACTED = "[redacted]"
_REDACTED_BYTES = REDACTED.encode()
MIN_SECRET_CHARS = 8
# The text fields of an answer (or a streamed delta) a model writes, where it may quote a key.
_TEXT_FIELDS = ("content", "reasoning_content", "refusal")
# Where a piece of streamed text belongs: (choice index, field, tool call index or -1).
_Slot = tuple[int, str, int]


def encodings(secret: str) -> set[str]:
    """The spellings of ``secret`` a response may carry: as is, URL-quoted, JSON-escaped,
    and base64 (standard and URL-safe, as in HTTP Basic credentials)."""
    raw = secret.encode()
    return {
        secret,
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
        secret.replace("/", "\\/"),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }


class Redactor:
    """Replaces the current values of the named environment variables in text and bytes."""

    def __init__(self, env_names: Iterable[str], environ: Mapping[str, str] | None = None) -> None:
        self._names = tuple(sorted(set(env_names)))
        self._environ = os.environ if environ is None else environ
        self._values: tuple[str | None, ...] = ()
        self._needles: tuple[str, ...] = ()
        self._byte_needles: tuple[bytes, ...] = ()
        self.refresh()

    def refresh(self) -> None:
        """Re-read the key values (a tuple of environment lookups; rebuilds only on change)."""
        values = tuple(self._environ.get(name) for name in self._names)
        if values == self._values:
            return
        spellings: set[str] = set()
        for value in values:
            if value and len(value) >= MIN_SECRET_CHARS:
                spellings |= encodings(value)
        # Longest first, so a secret's encoding that contains another is replaced whole.
        self._needles = tuple(sorted(spellings, key=len, reverse=True))
        self._byte_needles = tuple(needle.encode() for needle in self._needles)
        self._values = values

    def text(self, value: str) -> str:
        self.refresh()
        return self.scrub_text(value)

    def bytes(self, value: bytes) -> bytes:
        self.refresh()
        return self.scrub(value)

    def scrub(self, value: builtins.bytes) -> builtins.bytes:
        """:meth:`bytes` without re-reading the environment: for the events of one stream,
        after one :meth:`refresh` when it opened. A few substring checks per call."""
        for needle in self._byte_needles:
            if needle in value:
                value = value.replace(needle, _REDACTED_BYTES)
        return value

    def completion(self, completion: ChatCompletion) -> ChatCompletion:
        """Redact the answer's text as the client reads it (in place). The body's bytes are
        scrubbed already, but a translated reply joins pieces no byte string held whole: an
        Anthropic answer's text blocks become one ``content``."""
        for choice in completion.choices:
            message = choice.message
            for name in _TEXT_FIELDS:
                text = getattr(message, name)
                if isinstance(text, str) and text:
                    setattr(message, name, self.scrub_text(text))
            for call in message.tool_calls or ():
                call.function.arguments = self.scrub_text(call.function.arguments)
        return completion

    def scrub_text(self, value: str) -> str:
        """:meth:`text` without re-reading the environment (like :meth:`scrub`)."""
        for needle in self._needles:
            if needle in value:
                value = value.replace(needle, REDACTED)
        return value

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {name: self.text(value) for name, value in headers.items()}

    @property
    def active(self) -> bool:
        self.refresh()
        return bool(self._needles)

    @property
    def needles(self) -> tuple[str, ...]:
        """Every spelling of every key, longest first (as of the last :meth:`refresh`)."""
        return self._needles


class StreamScrubber:
    """Redacts keys a model streams across events (``"…sk-ab"``, ``"cd…"``), for one stream.

    Each event's bytes are already scrubbed (:meth:`Redactor.scrub`); this sees the decoded
    text deltas, per choice and field. It passes on a delta's text at once except the shortest
    tail that could still begin a key (a suffix that is a prefix of a key spelling), which it
    holds until the next delta of that field decides it: then the joined text is redacted.
    A choice's held text is released with its ``finish_reason`` chunk, and what is left at
    the end of the stream by :meth:`flush`. Ordinary text is held for a character or two at
    most, and not at all when no key is configured.
    """

    __slots__ = ("_held", "_last", "_needles", "_redactor")

    def __init__(self, redactor: Redactor) -> None:
        redactor.refresh()
        self._redactor = redactor
        self._needles = redactor.needles
        self._held: dict[_Slot, str] = {}
        self._last: ChatCompletionChunk | None = None

    @property
    def active(self) -> bool:
        return bool(self._needles)

    def chunk(self, chunk: ChatCompletionChunk) -> ChatCompletionChunk:
        """The chunk with its text redacted across events (changed in place)."""
        self._last = chunk
        for choice in chunk.choices:
            delta = choice.delta
            for name in _TEXT_FIELDS:
                text = getattr(delta, name)
                if text:
                    setattr(delta, name, self._pass((choice.index, name, -1), text))
            for call in delta.tool_calls or ():
                if call.function is not None and call.function.arguments:
                    slot = (choice.index, "arguments", call.index or 0)
                    call.function.arguments = self._pass(slot, call.function.arguments)
            if choice.finish_reason:
                self._release(choice.index, delta)
        return chunk

    def flush(self) -> ChatCompletionChunk | None:
        """A last chunk with every choice's held text, if any is held (at the end of a stream
        whose choices did not all say ``finish_reason``)."""
        if not self._held or self._last is None:
            return None
        indexes = sorted({index for index, _, _ in self._held})
        choices = [ChunkChoice(index=index, delta=Delta()) for index in indexes]
        for choice in choices:
            self._release(choice.index, choice.delta)
        return ChatCompletionChunk(
            id=self._last.id, created=self._last.created, model=self._last.model, choices=choices
        )

    def _pass(self, slot: _Slot, text: str) -> str:
        """What of ``text`` (after what this slot held) may go out now; the rest is held."""
        text = self._redactor.scrub_text(self._held.pop(slot, "") + text)
        keep = self._key_prefix_length(text)
        if keep:
            self._held[slot] = text[-keep:]
            return text[:-keep]
        return text

    def _key_prefix_length(self, text: str) -> int:
        """The length of the longest suffix of ``text`` that some key spelling starts with."""
        longest = 0
        for needle in self._needles:
            start = max(len(text) - len(needle) + 1, 0)
            while (start := text.find(needle[0], start)) != -1:
                if len(text) - start <= longest:
                    break
                if needle.startswith(text[start:]):
                    longest = len(text) - start
                    break
                start += 1
        return longest

    def _release(self, index: int, delta: Delta) -> None:
        """Put the held text of choice ``index`` back in ``delta`` (it is then final)."""
        for slot in [s for s in self._held if s[0] == index]:
            _, name, call = slot
            text = self._held.pop(slot)
            if name != "arguments":
                setattr(delta, name, (getattr(delta, name) or "") + text)
                continue
            delta.tool_calls = [
                *(delta.tool_calls or ()),
                ToolCallDelta(index=call, function=FunctionCall(arguments=text)),
            ]
