"""A chat completion stream → the Responses API's typed SSE events: pure, no I/O.

:class:`ResponsesStream` is fed the relay's chunks in order and returns the events they make.
The first chunk opens the response (``response.created``, ``response.in_progress``); each run of
reasoning, text or refusal deltas, and each streamed tool call, is one output item framed by
``output_item.added``/``.done`` (text-like runs also by ``content_part.added``/``.done`` and a
``*.done`` carrying the whole text); a new kind of delta closes the open item first, so items
never interleave, as in OpenAI's streams. ``[DONE]`` closes the open item and ends with
``response.completed`` (or ``.incomplete``) holding every item and the usage chunk's counts;
an error frame ends with ``error`` and ``response.failed``. Every event carries the next
``sequence_number``. Only choice 0 is read: a response holds one answer.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import msgspec

from app.inference.responses_reply import finish, item_id, response_shell, response_usage
from app.wire.response import ChatCompletionChunk, Delta, chunk_decoder
from app.wire.responses import ResponsesRequest
from app.wire.responses_output import (
    ArgumentsDeltaEvent,
    ArgumentsDoneEvent,
    ErrorEvent,
    FunctionCallItem,
    ItemEvent,
    LifecycleEvent,
    OutputItem,
    OutputMessage,
    OutputText,
    PartEvent,
    ReasoningItem,
    ReasoningText,
    Refusal,
    Response,
    ResponseError,
    StreamEvent,
    TextDeltaEvent,
    TextDoneEvent,
)

_DATA = b"data: "
_DONE = b"[DONE]"
_encoder = msgspec.json.Encoder()
# Text-like delta kind → (item kind, event name stem, the done event's text field).
_TEXT_KINDS = {
    "reasoning": ("reasoning", "response.reasoning_text", "text"),
    "text": ("message", "response.output_text", "text"),
    "refusal": ("message", "response.refusal", "refusal"),
}


class ResponsesStream:
    def __init__(self, request: ResponsesRequest) -> None:
        self._request = request
        self._sequence = 0
        self._response: Response | None = None
        self._items: list[OutputItem] = []
        self._open: OutputItem | None = None
        self._part: str | None = None  # the open text-like part's kind
        self._pieces: list[str] = []  # the open part's text, or call's arguments, so far
        self._tool_index: int | None = None  # the open function call's chat tool-call index
        self._finish_reason: str | None = None

    # -- SSE framing: one relay frame in, Responses frames out --------------------------------

    def translate_frame(self, frame: bytes) -> bytes:
        """A ``data: ...`` frame of the chat relay → the Responses SSE frames it makes."""
        data = frame.strip().removeprefix(_DATA)
        if data == _DONE:
            events = self.close()
        elif data.startswith(b'{"error"'):
            error = msgspec.json.decode(data).get("error") or {}
            events = self.fail(str(error.get("message", "")), error.get("code"))
        else:
            events = self.feed(chunk_decoder.decode(data))
        return b"".join(encode_event(event) for event in events)

    # -- events ---------------------------------------------------------------------------------

    def feed(self, chunk: ChatCompletionChunk) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        response = self._response
        if response is None:
            response = self._response = response_shell(self._request, chunk, status="in_progress")
            events.append(self._lifecycle("response.created"))
            events.append(self._lifecycle("response.in_progress"))
        if chunk.usage:
            response.usage = response_usage(chunk.usage)
        choice = next((c for c in chunk.choices if c.index == 0), None)
        if choice is None:
            return events
        self._deltas(choice.delta, events)
        if choice.finish_reason is not None:
            self._finish_reason = choice.finish_reason
        return events

    def close(self) -> list[StreamEvent]:
        """The end of the chat stream: close the open item, then complete the response."""
        if self._response is None:
            return []
        events = self._close_item()
        self._response.output = list(self._items)
        finish(self._response, self._finish_reason)
        events.append(self._lifecycle(f"response.{self._response.status}"))
        return events

    def fail(self, message: str, code: str | None = None) -> list[StreamEvent]:
        """The stream broke after it began: an ``error`` event, then ``response.failed``."""
        events: list[StreamEvent] = [ErrorEvent("error", self._next(), message, code)]
        if self._response is not None:
            self._response.status = "failed"
            self._response.output = list(self._items)
            self._response.error = ResponseError("server_error", message)
            events.append(self._lifecycle("response.failed"))
        return events

    def _deltas(self, delta: Delta, events: list[StreamEvent]) -> None:
        for kind, text in (
            ("reasoning", delta.reasoning_content),
            ("text", delta.content),
            ("refusal", delta.refusal),
        ):
            if text:
                self._text_delta(kind, text, events)
        for call in delta.tool_calls or ():
            index = call.index or 0
            if self._tool_index != index or not isinstance(self._open, FunctionCallItem):
                events.extend(self._close_item())
                name = call.function.name if call.function else ""
                self._open_item(
                    FunctionCallItem(
                        self._new_id("function_call"), call.id or "", name, "", "in_progress"
                    ),
                    events,
                )
                self._tool_index = index
            arguments = call.function.arguments if call.function else ""
            if arguments:
                item = self._open
                assert isinstance(item, FunctionCallItem)
                self._pieces.append(arguments)
                event = "response.function_call_arguments.delta"
                events.append(
                    ArgumentsDeltaEvent(event, self._next(), item.id, self._index(), arguments)
                )

    def _text_delta(self, kind: str, text: str, events: list[StreamEvent]) -> None:
        item_kind, stem, _ = _TEXT_KINDS[kind]
        open_kind = _kind_of(self._open)
        if open_kind != item_kind:
            events.extend(self._close_item())
            if item_kind == "reasoning":
                self._open_item(
                    ReasoningItem(self._new_id("reasoning"), [], status="in_progress"), events
                )
            else:
                self._open_item(OutputMessage(self._new_id("message"), [], "in_progress"), events)
        if self._part != kind:
            events.extend(self._close_part())
            self._part, self._pieces = kind, []
            events.append(self._part_event("response.content_part.added", _part(kind, "")))
        self._pieces.append(text)
        logprobs: list[Any] | msgspec.UnsetType = [] if kind == "text" else msgspec.UNSET
        item = self._open
        assert item is not None
        events.append(
            TextDeltaEvent(
                f"{stem}.delta",
                self._next(),
                item.id,
                self._index(),
                self._content_index(),
                text,
                logprobs,
            )
        )

    # -- opening and closing items and parts ----------------------------------------------------

    def _open_item(self, item: OutputItem, events: list[StreamEvent]) -> None:
        self._open = item
        events.append(
            ItemEvent("response.output_item.added", self._next(), self._index(), _copy(item))
        )

    def _close_part(self) -> list[StreamEvent]:
        kind, item = self._part, self._open
        if kind is None or item is None or isinstance(item, FunctionCallItem):
            return []
        _, stem, field = _TEXT_KINDS[kind]
        text = "".join(self._pieces)
        part = _part(kind, text)
        index = self._content_index()
        done = TextDoneEvent(
            type=f"{stem}.done",
            sequence_number=self._next(),
            item_id=item.id,
            output_index=self._index(),
            content_index=index,
        )
        setattr(done, field, text)
        if kind == "text":
            done.logprobs = []
        item.content.append(part)  # type: ignore[arg-type]  # reasoning parts only in reasoning items
        self._part, self._pieces = None, []
        return [done, self._part_event("response.content_part.done", part, index)]

    def _close_item(self) -> list[StreamEvent]:
        item = self._open
        if item is None:
            return []
        events = self._close_part()
        if isinstance(item, FunctionCallItem):
            item.arguments, self._pieces = "".join(self._pieces), []
            event = "response.function_call_arguments.done"
            events.append(
                ArgumentsDoneEvent(
                    event, self._next(), item.id, self._index(), item.arguments, item.name
                )
            )
        item.status = "completed"
        events.append(ItemEvent("response.output_item.done", self._next(), self._index(), item))
        self._items.append(item)
        self._open, self._tool_index = None, None
        return events

    # -- helpers ----------------------------------------------------------------------------------

    def _part_event(self, name: str, part: Any, index: int | None = None) -> PartEvent:
        item = self._open
        assert item is not None
        content_index = self._content_index() if index is None else index
        return PartEvent(name, self._next(), item.id, self._index(), content_index, part)

    def _lifecycle(self, name: str) -> LifecycleEvent:
        assert self._response is not None
        # Encoded now or later, each event shows the response as it was when it was made.
        snapshot = msgspec.structs.replace(self._response, output=list(self._response.output))
        return LifecycleEvent(name, self._next(), snapshot)

    def _new_id(self, kind: str) -> str:
        assert self._response is not None
        return item_id(kind, self._response.id, len(self._items))

    def _index(self) -> int:
        """The open item's output index: every closed item comes before it."""
        return len(self._items)

    def _content_index(self) -> int:
        """The open part's index: the parts already closed come before it."""
        item = self._open
        return len(item.content) if isinstance(item, OutputMessage | ReasoningItem) else 0

    def _next(self) -> int:
        self._sequence += 1
        return self._sequence - 1


async def translate_relay(
    relay: AsyncIterator[list[bytes]], request: ResponsesRequest
) -> AsyncGenerator[bytes, None]:
    """The chat relay (``InferenceService.open_stream``) as a Responses event stream. Closing
    this closes the relay, which records the inference as cancelled."""
    stream = ResponsesStream(request)
    try:
        async for frames in relay:
            if translated := b"".join(stream.translate_frame(frame) for frame in frames):
                yield translated
    finally:
        aclose = getattr(relay, "aclose", None)  # the relay is a generator: its finally records
        if aclose is not None:
            await aclose()


def encode_event(event: StreamEvent) -> bytes:
    """One SSE frame, named by an ``event:`` line as OpenAI's are."""
    return b"event: " + event.type.encode() + b"\n" + _DATA + _encoder.encode(event) + b"\n\n"


def _copy(item: OutputItem) -> OutputItem:
    """A snapshot for an event: the open item changes as deltas come."""
    if isinstance(item, FunctionCallItem):
        return msgspec.structs.replace(item)
    return msgspec.structs.replace(item, content=list(item.content))


def _kind_of(item: OutputItem | None) -> str | None:
    if isinstance(item, OutputMessage):
        return "message"
    if isinstance(item, ReasoningItem):
        return "reasoning"
    return None if item is None else "function_call"


def _part(kind: str, text: str) -> OutputText | Refusal | ReasoningText:
    if kind == "refusal":
        return Refusal(text)
    return ReasoningText(text) if kind == "reasoning" else OutputText(text)
