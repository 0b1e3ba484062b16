"""``POST /v1/responses`` on the chat pipeline: decode, translate, plan, and chain turns.

A Responses request becomes a chat request (:func:`to_chat_request`) that
:class:`InferenceService` plans and runs like any other, so resolution, variants, templates,
campaigns, logging and cost apply unchanged, and the response id is the inference id (a
feedback target). ``previous_response_id`` is served from the inference log: the earlier
inference's logged input messages plus its answer become the history of this turn. A turn
that was not logged (unknown id, ``store: false``, another key's, or logged without its
input) is refused with a 400 naming the parameter.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable

import msgspec

from app.auth.principal import Principal
from app.errors import InvalidRequest
from app.inference.plan import Plan, new_context
from app.inference.responses_reply import to_response
from app.inference.responses_stream import translate_relay
from app.inference.responses_wire import to_chat_request
from app.inference.service import InferenceService
from app.store.clickhouse.history import LoggedTurn
from app.wire.request import FunctionCall, Message, ToolCall
from app.wire.response import Choice
from app.wire.responses import ResponsesRequest, decode_responses_request
from app.wire.responses_output import Response

# previous_response_id → that inference as logged (None when there is no such row).
TurnLookup = Callable[[str], Awaitable[LoggedTurn | None]]

_messages = msgspec.json.Decoder(list[Message])
_choices = msgspec.json.Decoder(list[Choice])


class ResponsesService:
    def __init__(self, inference: InferenceService, lookup: TurnLookup) -> None:
        self.inference = inference
        self.lookup = lookup

    async def plan(self, body: bytes, principal: Principal) -> tuple[ResponsesRequest, Plan]:
        """The decoded request and its chat plan (the caller checks the plan's function
        against the key's scope, as for chat)."""
        request = decode_responses_request(body)
        history = None
        if request.previous_response_id is not None:
            history = await self.history(request.previous_response_id, principal)
        chat, chat_body = to_chat_request(request, body, history=history)
        plan = self.inference.plan(chat, chat_body, new_context(api_key_id=principal.id))
        return request, plan

    async def complete(self, request: ResponsesRequest, plan: Plan) -> Response:
        return to_response(await self.inference.complete(plan), request)

    async def stream(self, request: ResponsesRequest, plan: Plan) -> AsyncGenerator[bytes, None]:
        """The Responses event stream; raises before the first byte like chat's open_stream."""
        relay = await self.inference.open_stream(plan)
        return translate_relay(relay, request)

    async def history(self, response_id: str, principal: Principal) -> list[Message]:
        """The messages of the turn ``response_id`` names: its input, then its answer."""
        turn = await self.lookup(response_id)
        if turn is None or not (principal.is_admin or turn.api_key_id == principal.id):
            raise InvalidRequest(
                f"No stored response '{response_id}' to continue from (responses with "
                "store: false are not kept); send the history in 'input' instead",
                param="previous_response_id",
                code="previous_response_not_found",
            )
        if turn.status != "ok" or not turn.input_messages:
            why = "did not finish" if turn.status != "ok" else "was logged without its input"
            raise InvalidRequest(
                f"Response '{response_id}' {why}, so it cannot be continued; "
                "send the history in 'input' instead",
                param="previous_response_id",
                code="previous_response_unusable",
            )
        return turn_messages(turn)


def turn_messages(turn: LoggedTurn) -> list[Message]:
    """A logged inference as chat history: its input messages, then its first choice."""
    messages = _messages.decode(turn.input_messages)
    choices = _choices.decode(turn.output) if turn.output else []
    if choices:
        answer = choices[0].message
        calls = answer.tool_calls or []
        messages.append(
            Message(
                role="assistant",
                content=answer.content,
                tool_calls=[
                    ToolCall(c.id, FunctionCall(c.function.name, c.function.arguments))
                    for c in calls
                ]
                or None,
                refusal=answer.refusal if isinstance(answer.refusal, str) else None,
            )
        )
    return messages
