"""Evaluation runs (docs/evaluations.md): every variant of a run answers every datapoint of the
evaluation's dataset through the normal pipeline, and each evaluator grades each answer.

Invariants:

- Each (variant, datapoint) pair lands once. A run flushes finished pairs (scores, then the
  result row that marks the pair done) about once a second; a resumed run skips the pairs that
  have a result, so a pair cut off before its flush is answered again, never twice in the
  results.
- A run belongs to the process that runs it, which refreshes its ``heartbeat_at`` at every
  flush. A run still ``running`` whose heartbeat is older than ``stale_s`` was cut off (the
  process died) and reads as ``interrupted``; a gateway that shuts down cleanly marks its runs
  interrupted itself. An interrupted (or failed) run can be resumed.
- A failing datapoint (provider down, template refusing its args) is an errored result; the run
  goes on. Only the store failing, or the config losing the evaluation, fails a run.
- Evaluation calls are pinned to their variant (so no campaign, adaptive allocation or sticky
  assignment sees them), carry no API key (so no key's budget is charged), bypass the response
  cache, and are labelled :data:`EVALUATION_LABEL` = run id (so datasets leave them out).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from app.config.compile import Snapshot
from app.config.evaluations import CompiledEvaluation, CompiledEvaluator
from app.config.schema import LlmJudgeEvaluator
from app.datasets.service import DatasetService
from app.errors import Conflict, GatewayError, InvalidRequest, NotFound
from app.evaluations.evaluators import (
    grade,
    judge_grade,
    judge_prompt,
    message_text,
    reference_text,
)
from app.evaluations.report import build_report, run_info
from app.ids import uuid7_str
from app.inference.plan import new_context
from app.inference.service import InferenceService
from app.store.clickhouse.evaluations import EvaluationStore
from app.wire.datasets import Datapoint
from app.wire.evaluations import EVALUATION_LABEL, RunCreate, RunInfo, RunReport
from app.wire.request import ChatRequest
from app.wire.response import ChatCompletion

log = logging.getLogger(__name__)
_encoder = msgspec.json.Encoder()


@dataclass(eq=False)
class _Run:
    row: dict[str, Any]
    evaluation: CompiledEvaluation
    pending: list[tuple[str, Datapoint]]
    done: int = 0
    errored: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)
    scores: list[dict[str, Any]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    @property
    def id(self) -> str:
        return str(self.row["id"])


class EvaluationService:
    def __init__(
        self,
        store: EvaluationStore,
        datasets: DatasetService,
        inference: InferenceService,
        snapshot: Callable[[], Snapshot],
        *,
        flush_s: float = 1.0,
        stale_s: float = 15.0,
    ) -> None:
        self._store = store
        self._datasets = datasets
        self._inference = inference
        self._snapshot = snapshot
        self._flush_s = flush_s
        self._stale_s = stale_s
        self._active: dict[str, _Run] = {}

    def evaluation(self, name: str) -> CompiledEvaluation:
        evaluation = self._snapshot().evaluations.get(name)
        if evaluation is None:
            raise NotFound(f"no evaluation named '{name}' in the config", param="name")
        return evaluation

    def configured(self) -> list[dict[str, Any]]:
        return [
            {
                "name": e.name,
                "function": e.function,
                "dataset": e.config.dataset,
                "description": e.config.description,
                "evaluators": {n: ev.type for n, ev in e.evaluators.items()},
            }
            for e in sorted(self._snapshot().evaluations.values(), key=lambda e: e.name)
        ]

    async def start(self, name: str, request: RunCreate, started_by: str) -> RunReport:
        evaluation = self.evaluation(name)
        function = self._snapshot().functions[evaluation.function]
        for index, variant in enumerate(request.variants):
            if variant not in function.variants:
                raise InvalidRequest(
                    f"function '{evaluation.function}' has no variant '{variant}'",
                    param=f"variants[{index}]",
                )
        if len(set(request.variants)) != len(request.variants):
            raise InvalidRequest("a variant is listed twice", param="variants")
        points = await self._datapoints(evaluation, request.limit)
        at = _now()
        row = {
            "id": uuid7_str(),
            "evaluation": name,
            "function": evaluation.function,
            "dataset": evaluation.config.dataset,
            "variants": request.variants,
            "concurrency": request.concurrency,
            "max_datapoints": request.limit or 0,
            "total": len(points) * len(request.variants),
            "status": "running",
            "error": "",
            "config_version": self._snapshot().version,
            "started_by": started_by,
            "created_at": at,
            "heartbeat_at": at,
            "updated_at": at,
        }
        await self._store.write_run(row)
        pairs = [(variant, point) for point in points for variant in request.variants]
        self._launch(_Run(row, evaluation, pairs))
        return await self.report(str(row["id"]))

    async def resume(self, run_id: str) -> RunReport:
        row = await self._store.run(run_id)
        if row is None:
            raise NotFound(f"no evaluation run '{run_id}'", param="id")
        status = self._status(row)
        if status not in ("interrupted", "failed"):
            raise Conflict(
                f"run '{run_id}' is {status}; only an interrupted or failed run resumes",
                param="id",
            )
        evaluation = self.evaluation(row["evaluation"])
        points = await self._datapoints(evaluation, row["max_datapoints"] or None)
        done = await self._store.done_pairs(run_id)
        errored = sum(int(c[2]) for c in await self._store.result_counts(run_id))
        pairs = [
            (variant, point)
            for point in points
            for variant in row["variants"]
            if (variant, point.id) not in done
        ]
        row.update(status="running", error="", heartbeat_at=_now(), updated_at=_now())
        await self._store.write_run(row)
        self._launch(_Run(row, evaluation, pairs, done=len(done), errored=errored))
        return await self.report(run_id)

    async def report(self, run_id: str) -> RunReport:
        active = self._active.get(run_id)
        row = dict(active.row) if active is not None else await self._store.run(run_id)
        if row is None:
            raise NotFound(f"no evaluation run '{run_id}'", param="id")
        status = self._status(row)  # before the reads below: they are at least this fresh
        counts = await self._store.result_counts(run_id)
        scores = await self._store.scores(run_id)
        errors = await self._store.errors(run_id, limit=20)
        progress = (active.done, active.errored) if active is not None else None
        configured = self._snapshot().evaluations.get(row["evaluation"])
        names = list(configured.evaluators) if configured is not None else []
        return build_report(row, status, counts, scores, errors, progress, names)

    async def runs(self, evaluation: str | None, limit: int = 100) -> list[RunInfo]:
        rows = await self._store.runs(evaluation, limit)
        return [run_info(row, self._status(row)) for row in rows]

    async def close(self) -> None:
        """Stop this process's runs, flushing what finished and marking them interrupted."""
        runs = list(self._active.values())
        for run in runs:
            if run.task is not None:
                run.task.cancel()
        for run in runs:
            if run.task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await run.task

    def _status(self, row: dict[str, Any]) -> str:
        status = str(row["status"])
        if status != "running" or row["id"] in self._active:
            return status
        stale = time.time() - float(row["heartbeat_at"]) > self._stale_s
        return "interrupted" if stale else status

    async def _datapoints(
        self, evaluation: CompiledEvaluation, limit: int | None
    ) -> list[Datapoint]:
        name = evaluation.config.dataset
        try:
            info, points = await self._datasets.all_datapoints(name)
        except NotFound:
            raise InvalidRequest(
                f"evaluation '{evaluation.name}' reads dataset '{name}', which does not exist "
                "(create it with POST /admin/datasets)",
                param="dataset",
            ) from None
        if info.function != evaluation.function:
            raise InvalidRequest(
                f"dataset '{name}' holds datapoints of function '{info.function}', not "
                f"'{evaluation.function}'",
                param="dataset",
            )
        return points[:limit] if limit else points

    def _launch(self, run: _Run) -> None:
        self._active[run.id] = run
        run.task = asyncio.create_task(self._execute(run), name=f"evaluation-run-{run.id}")

    async def _execute(self, run: _Run) -> None:
        queue: asyncio.Queue[tuple[str, Datapoint]] = asyncio.Queue()
        for pair in run.pending:
            queue.put_nowait(pair)
        workers = [
            asyncio.create_task(self._work(run, queue))
            for _ in range(min(int(run.row["concurrency"]), max(len(run.pending), 1)))
        ]
        stop = asyncio.Event()
        # Never cancelled: a flush cut off mid-insert could not tell whether its rows landed.
        flusher = asyncio.create_task(self._keep_flushing(run, stop))
        status, error = "completed", ""
        try:
            await asyncio.gather(*workers)
        except asyncio.CancelledError:
            status = "interrupted"
        except Exception as exc:  # the run fails, its report says why
            log.exception("evaluation run %s failed", run.id)
            status, error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            stop.set()
            await asyncio.gather(flusher, return_exceptions=True)
            await self._finish(run, status, error)

    async def _finish(self, run: _Run, status: str, error: str) -> None:
        try:
            await self._flush(run)
        except Exception as exc:  # noqa: BLE001 - unflushed pairs are re-run on resume
            status, error = "failed", f"could not store results: {exc}"
        run.row.update(status=status, error=error, heartbeat_at=_now(), updated_at=_now())
        try:
            await self._store.write_run(run.row)
        except Exception:
            log.exception("could not record the end of evaluation run %s", run.id)
        self._active.pop(run.id, None)

    async def _keep_flushing(self, run: _Run, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._flush_s)
            if stop.is_set():
                return
            try:
                await self._flush(run)
                run.row.update(heartbeat_at=_now(), updated_at=_now())
                await self._store.write_run(run.row)
            except GatewayError as exc:  # the store is away: keep the rows, try again
                log.warning("evaluation run %s: %s", run.id, exc.message)

    async def _flush(self, run: _Run) -> None:
        results, scores = run.results, run.scores
        run.results, run.scores = [], []
        try:
            await self._store.write_finished(results, scores)
        except Exception:
            run.results[:0], run.scores[:0] = results, scores
            raise

    async def _work(self, run: _Run, queue: asyncio.Queue[tuple[str, Datapoint]]) -> None:
        while not queue.empty():
            variant, point = queue.get_nowait()
            await self._evaluate(run, variant, point)

    async def _evaluate(self, run: _Run, variant: str, point: Datapoint) -> None:
        started = time.perf_counter()
        base = {"run_id": run.id, "variant": variant, "datapoint_id": point.id}
        try:
            completion = await self._answer(run, variant, point)
        except GatewayError as exc:
            run.results.append(
                {
                    **base,
                    "inference_id": None,
                    "status": "error",
                    "error": exc.message,
                    "output": "",
                    "cost": None,
                    "latency_ms": (time.perf_counter() - started) * 1000,
                    "created_at": _now(),
                }
            )
            run.done += 1
            run.errored += 1
            return
        output = message_text(completion.choices[0].message) if completion.choices else ""
        reference = reference_text(point.reference_output)
        for evaluator in run.evaluation.evaluators.values():
            score, why, judge_id = await self._grade(run, evaluator, point, output, reference)
            run.scores.append(
                {
                    **base,
                    "evaluator": evaluator.name,
                    "inference_id": completion.id,
                    "score": score,
                    "error": why,
                    "judge_inference_id": judge_id,
                    "created_at": _now(),
                }
            )
        usage = completion.usage
        run.results.append(
            {
                **base,
                "inference_id": completion.id,
                "status": "ok",
                "error": "",
                "output": output,
                "cost": usage.cost if usage is not None and isinstance(usage.cost, float) else None,
                "latency_ms": (time.perf_counter() - started) * 1000,
                "created_at": _now(),
            }
        )
        run.done += 1

    async def _answer(self, run: _Run, variant: str, point: Datapoint) -> ChatCompletion:
        function = self._snapshot().functions.get(run.evaluation.function)
        server_tools = function.tools if function is not None else {}
        body: dict[str, Any] = {
            "model": run.evaluation.function,
            "tensorzero::variant_name": variant,
            "messages": msgspec.to_builtins(point.input_messages),
            "system_prompt_args": point.system_prompt_args,
            "labels": _labels(run, "answer"),
            "cache_options": {"enabled": "off"},
        }
        # The variant under test offers its own server-side tools; the rest are the client's.
        tools = [t for t in point.tools or () if _tool_name(t) not in server_tools]
        if tools:
            body["tools"] = tools
        return await self._call(body)

    async def _grade(
        self,
        run: _Run,
        evaluator: CompiledEvaluator,
        point: Datapoint,
        output: str,
        reference: str | None,
    ) -> tuple[float | None, str, str | None]:
        config = evaluator.config
        if not isinstance(config, LlmJudgeEvaluator):
            return (*grade(evaluator, output, reference), None)
        try:
            prompt = judge_prompt(
                evaluator,
                msgspec.to_builtins(point.input_messages),
                output,
                reference,
                point.system_prompt_args,
            )
        except Exception as exc:  # noqa: BLE001 - a template error grades nothing, says why
            return None, f"judge template: {exc}", None
        messages = [{"role": "system", "content": config.system}] if config.system else []
        messages.append({"role": "user", "content": prompt})
        body = {
            "model": config.model,
            "messages": messages,
            "temperature": config.temperature,
            "labels": {**_labels(run, "judge"), "switchyard.evaluator": evaluator.name},
            "cache_options": {"enabled": "off"},
        }
        try:
            answer = await self._call(body)
        except GatewayError as exc:
            return None, f"judge call failed: {exc.message}", None
        text = answer.choices[0].message.content or "" if answer.choices else ""
        return (*judge_grade(config, text), answer.id)

    async def _call(self, body: dict[str, Any]) -> ChatCompletion:
        raw = _encoder.encode(body)
        try:
            request = msgspec.json.decode(raw, type=ChatRequest)
        except msgspec.ValidationError as exc:
            raise InvalidRequest(f"the datapoint is not a valid request: {exc}") from None
        plan = self._inference.plan(request, raw, new_context())
        return await self._inference.complete(plan)


def _labels(run: _Run, role: str) -> dict[str, str]:
    return {EVALUATION_LABEL: run.id, "switchyard.eval_role": role}


def _tool_name(tool: Any) -> str | None:
    function = tool.get("function") if isinstance(tool, dict) else None
    return function.get("name") if isinstance(function, dict) else None


def _now() -> float:
    return round(time.time(), 3)
