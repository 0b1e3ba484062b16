"""Which request parameters an OpenAI-compatible server accepts, declared rather than probed.

This is config data (an ``openai`` provider's ``params`` key), so it lives in the config layer:
the compiler validates declarations here and the provider reads the resolved set, without
config importing providers. With ``drop_params`` true (the default), the ``openai`` provider
sends only the parameters its config's ``params`` names: a preset below or an explicit list.
Servers differ: OpenAI rejects vLLM's sampling extensions (``top_k``, ``guided_json``…) with a
400, SambaNova documents a short list, vLLM accepts everything (docs/providers.md, "Which
parameters reach the provider"). ``stream_options`` is in a list when the server accepts
``stream_options.include_usage``; Switchyard then always asks for usage on streams so that
recorded token counts are exact.
"""

from __future__ import annotations

from app.wire.request import OPENAI_PARAMS, VLLM_PARAMS

# Request parameters that are not plain sampling fields but that a server may or may not take.
_STRUCTURAL = ("tools", "stream_options")

KNOWN_PARAMS = frozenset(OPENAI_PARAMS + VLLM_PARAMS + _STRUCTURAL)

PARAM_PRESETS: dict[str, frozenset[str]] = {
    # api.openai.com and strict OpenAI clones (Groq, Mistral, DeepSeek, xAI).
    "openai": frozenset(OPENAI_PARAMS + _STRUCTURAL),
    # vLLM, SGLang, TGI, TIR, Together, Fireworks: OpenAI's parameters plus vLLM's extensions.
    "vllm": KNOWN_PARAMS,
    # SambaNova Cloud, as its chat completions reference lists them.
    "sambanova": frozenset(
        (
            "max_tokens",
            "temperature",
            "top_p",
            "top_k",
            "stop",
            "tools",
            "tool_choice",
            "response_format",
            "stream_options",
        )
    ),
}


def accepted_params(declared: str | list[str]) -> frozenset[str]:
    """The parameter set a provider config declares; call only on a validated config."""
    if isinstance(declared, str):
        return PARAM_PRESETS[declared]
    return frozenset(declared)


def param_problems(declared: str | list[str]) -> list[str]:
    """What is wrong with a ``params`` declaration, for ``config validate``."""
    if isinstance(declared, str):
        if declared in PARAM_PRESETS:
            return []
        return [
            f"unknown preset '{declared}' (expected one of {', '.join(PARAM_PRESETS)}, or a list)"
        ]
    return [f"unknown parameter '{name}'" for name in declared if name not in KNOWN_PARAMS]
