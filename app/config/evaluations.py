"""Evaluations compiled once per config version (docs/evaluations.md): regexes, JSON Schemas and
judge templates are built at load, so a malformed evaluator is a config problem naming its key
and a run never compiles anything per datapoint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import jsonschema_rs
import msgspec

from app.config.problems import ProblemLog
from app.config.schema import (
    ENTRY_NAME,
    EvaluationConfig,
    EvaluatorConfig,
    JsonSchemaEvaluator,
    LlmJudgeEvaluator,
    RegexEvaluator,
)
from app.prompts import SystemTemplate, TemplateProblem, compile_template

# What a judge template may use.
JUDGE_VARIABLES = frozenset({"input", "output", "reference", "system_prompt_args"})


@dataclass(frozen=True, slots=True)
class CompiledEvaluator:
    name: str
    config: EvaluatorConfig
    pattern: re.Pattern[str] | None = None  # regex
    validator: Any = None  # json_schema: a jsonschema_rs validator
    template: SystemTemplate | None = None  # llm_judge

    @property
    def type(self) -> str:
        return type(self.config).__struct_config__.tag  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class CompiledEvaluation:
    name: str
    function: str
    config: EvaluationConfig
    evaluators: dict[str, CompiledEvaluator]


class EvaluationChecks(ProblemLog):
    def evaluation_configs(self, raw: Any, key: str) -> dict[str, EvaluationConfig] | None:
        """Each evaluation, and each of its evaluators, decoded on its own so that a problem
        names its entry (``...evaluations.E.evaluators.X.pattern``); None after any problem."""
        if not isinstance(raw, dict):
            self.problem(key, "must be a table")
            return None
        before = len(self.problems)
        decoded = {}
        for name, entry in raw.items():
            ekey = f"{key}.{name}"
            if not ENTRY_NAME.match(name):
                self.problem(ekey, "invalid evaluation name (letters, digits, . _ - : only)")
            if not isinstance(entry, dict):
                self.problem(ekey, "must be a table")
                continue
            rest = dict(entry)
            evaluators_raw = rest.pop("evaluators", None)
            if not isinstance(evaluators_raw, dict) or not evaluators_raw:
                self.problem(f"{ekey}.evaluators", "an evaluation needs at least one evaluator")
                continue
            evaluators: dict[str, EvaluatorConfig] = self.decode_each(
                evaluators_raw,
                EvaluatorConfig,  # type: ignore[arg-type]  # a union: msgspec decodes by tag
                f"{ekey}.evaluators",
            )
            base = self.decode({**rest, "evaluators": {}}, EvaluationConfig, ekey)
            if base is not None:
                decoded[name] = msgspec.structs.replace(base, evaluators=evaluators)
        return decoded if len(self.problems) == before else None

    def compile_evaluation(
        self,
        function: str,
        name: str,
        config: EvaluationConfig,
        chat_model: Any,
    ) -> CompiledEvaluation:
        """``chat_model(reference)`` is None for a chat model the judge can use, else why not."""
        key = f"functions.{function}.evaluations.{name}"
        evaluators = {}
        for evaluator_name, evaluator in config.evaluators.items():
            ekey = f"{key}.evaluators.{evaluator_name}"
            compiled = self._compile_evaluator(evaluator_name, evaluator, ekey, chat_model)
            if compiled is not None:
                evaluators[evaluator_name] = compiled
        return CompiledEvaluation(name, function, config, evaluators)

    def _compile_evaluator(
        self, name: str, config: EvaluatorConfig, key: str, chat_model: Any
    ) -> CompiledEvaluator | None:
        if isinstance(config, RegexEvaluator):
            try:
                return CompiledEvaluator(name, config, pattern=re.compile(config.pattern))
            except re.error as exc:
                self.problem(f"{key}.pattern", f"invalid regular expression: {exc}")
                return None
        if isinstance(config, JsonSchemaEvaluator):
            try:
                return CompiledEvaluator(
                    name, config, validator=jsonschema_rs.validator_for(config.schema)
                )
            except jsonschema_rs.ValidationError as exc:
                self.problem(f"{key}.schema", f"invalid JSON Schema: {str(exc).splitlines()[0]}")
                return None
        if isinstance(config, LlmJudgeEvaluator):
            return self._compile_judge(name, config, key, chat_model)
        return CompiledEvaluator(name, config)

    def _compile_judge(
        self, name: str, config: LlmJudgeEvaluator, key: str, chat_model: Any
    ) -> CompiledEvaluator | None:
        sound = True
        if (why := chat_model(config.model)) is not None:
            self.problem(f"{key}.model", why)
            sound = False
        if config.output == "float" and config.min >= config.max:
            self.problem(f"{key}.min", f"min ({config.min:g}) must be below max ({config.max:g})")
            sound = False
        try:
            template = compile_template(config.template)
        except TemplateProblem as exc:
            self.problem(f"{key}.template", str(exc))
            return None
        for unknown in sorted(template.variables - JUDGE_VARIABLES):
            self.problem(
                f"{key}.template",
                f"uses '{unknown}'; a judge template sees {', '.join(sorted(JUDGE_VARIABLES))}",
            )
            sound = False
        return CompiledEvaluator(name, config, template=template) if sound else None
