"""A key a model streams across events is redacted (docs/security.md): the scrubber holds back
only a tail that could begin a key, and releases it when the next delta, the choice's finish
or the end of the stream decides it."""

from __future__ import annotations

from app.providers.redact import REDACTED, Redactor, StreamScrubber
from app.wire.response import (
    ChatCompletionChunk,
    ChunkChoice,
    Delta,
    FunctionCall,
    ToolCallDelta,
)

KEY = "sk-live-0123456789abcdef"


def scrubber(key: str | None = KEY) -> StreamScrubber:
    return StreamScrubber(Redactor(["K"], {"K": key} if key else {}))


def text_chunk(text: str, finish: str | None = None, index: int = 0) -> ChatCompletionChunk:
    return ChatCompletionChunk(
        id="c", choices=[ChunkChoice(index=index, delta=Delta(content=text), finish_reason=finish)]
    )


def stream(scrub: StreamScrubber, chunks: list[ChatCompletionChunk]) -> list[str]:
    out = [scrub.chunk(c) for c in chunks]
    if (last := scrub.flush()) is not None:
        out.append(last)
    return [choice.delta.content or "" for c in out for choice in c.choices]


def test_a_key_split_over_deltas_never_goes_out_whole_or_in_part() -> None:
    scrub = scrubber()
    pieces = ["your key is sk-li", "ve-0123", "456789abcdef", " ok", ""]
    out = stream(scrub, [text_chunk(p) for p in pieces[:-1]] + [text_chunk("", "stop")])
    assert "".join(out) == f"your key is {REDACTED} ok"
    assert out[0] == "your key is "  # only the tail that could begin the key waited
    assert all("sk-li" not in piece for piece in out)


def test_ordinary_text_waits_only_for_a_possible_key_start() -> None:
    scrub = scrubber()
    assert stream(scrub, [text_chunk("hello world")]) == ["hello world"]
    scrub = scrubber()
    out = stream(scrub, [text_chunk("ash"), text_chunk(" me", "stop")])
    assert out == ["ash", " me"]  # no suffix of "ash" begins the key: nothing held
    scrub = scrubber()
    out = stream(scrub, [text_chunk("a task-l"), text_chunk("ist", "stop")])
    assert out == ["a ta", "sk-list"]  # "sk-l" might have begun the key: held one delta


def test_held_text_is_released_at_finish_and_at_the_end_of_the_stream() -> None:
    scrub = scrubber()
    out = stream(scrub, [text_chunk("the end: sk-l"), text_chunk("", "length")])
    assert out == ["the end: ", "sk-l"]  # a key's beginning only, so not a key: released
    scrub = scrubber()
    out = stream(scrub, [text_chunk("no finish sk")])
    assert out == ["no finish ", "sk"]  # flush() gives it back when the stream just ends


def test_choices_are_kept_apart() -> None:
    scrub = scrubber()
    chunks = [
        text_chunk(KEY[:5], index=0),
        text_chunk(KEY[:9], index=1),
        text_chunk(KEY[5:], index=0),
        text_chunk(KEY[9:], "stop", index=1),
        text_chunk("", "stop", index=0),
    ]
    assert "".join(stream(scrub, chunks)) == REDACTED * 2


def test_encodings_and_tool_call_arguments_are_covered() -> None:
    scrub = scrubber("sk/live+0123456789")
    json_escaped = "sk\\/live+0123456789"
    calls = [
        ChatCompletionChunk(
            choices=[
                ChunkChoice(
                    delta=Delta(
                        tool_calls=[ToolCallDelta(index=0, function=FunctionCall(arguments=part))]
                    )
                )
            ]
        )
        for part in ('{"k": "' + json_escaped[:6], json_escaped[6:] + '"}')
    ]
    out = [scrub.chunk(c) for c in calls]
    out.append(scrub.chunk(text_chunk("", "tool_calls")))
    arguments = "".join(
        call.function.arguments
        for chunk in out
        for choice in chunk.choices
        for call in choice.delta.tool_calls or ()
        if call.function is not None
    )
    assert arguments == '{"k": "' + REDACTED + '"}'


def test_no_configured_key_means_nothing_is_held() -> None:
    scrub = scrubber(None)
    assert not scrub.active
