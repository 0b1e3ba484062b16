"""Token estimates for when a provider reports no usage (and for the dummy provider).

Real tokenizers are model-specific; without one we count word pieces and punctuation marks,
which tracks BPE token counts for English prose within roughly ±25%. Recorded usage says
which it is: provider-reported counts are always preferred.
"""

from __future__ import annotations

import re
from typing import Any

_PIECES = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    return len(_PIECES.findall(text))


def message_text(message: Any) -> str:
    """The text of a request message, whatever its content shape."""
    content = message.content
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return " ".join(getattr(part, "text", "") for part in content)


def count_prompt_tokens(messages: list[Any]) -> int:
    # Chat formats add a few tokens of framing per message.
    return sum(count_tokens(message_text(m)) + 3 for m in messages)
