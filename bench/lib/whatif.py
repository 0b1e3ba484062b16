"""``switchyard serve`` with experimental patches: measures what a proposed change would gain
before anyone edits app/. Used as ``BENCH_WHATIF=patch,patch bench/run --only switchyard``;
the report labels such rows "what-if". Nothing here is Switchyard's shipped behaviour.

Patches (comma-separated in BENCH_WHATIF):
  drain-once   the ClickHouse writer inserts one batch per wake-up (plus any *full* batch)
               instead of looping until the queue is empty, which under steady load turns
               the 0.5 s batching interval into back-to-back inserts of a few rows each.
  writer-nice  the writer thread (and the chDB threads it starts) run at nice 10, so the event
               loop wins the core whenever both want it.
  switch-1ms   the interpreter's GIL switch interval 5 ms -> 1 ms (measured 2026-12-07 and since
               shipped as SWITCHYARD_GIL_SWITCH_INTERVAL_MS; kept to reproduce that run, where
               the gateway's own setting was not there yet).
  gc-50k       the cyclic garbage collector's youngest generation collects after 50,000 net
               allocations instead of 700 (older generations unchanged): fewer, larger
               collections.
  store-proc   one worker on the embedded default hands its rows to a store process that owns
               chDB, as ``--workers N`` does, instead of owning chDB itself.

The three below were measured and dropped on 2026-12-07 (docs/performance.md, "evening"):
  writer-idle  the writer thread (and the chDB threads it starts) run under SCHED_IDLE instead of
               nice 5: any runnable request preempts them at once.
  loop-slice   every thread but the writer's asks the kernel (EEVDF, Linux 6.12+) for a 0.1 ms
               time slice instead of the default ~3 ms, so a woken request thread preempts
               chDB's inserts at once; weights, and so the writer's share, are unchanged.
  switch-dyn   the writer thread lowers the GIL switch interval to 0.2 ms while it works on a
               batch (encode, insert, seal, replay) and puts it back after, so the loop waits at
               most 0.2 ms for the GIL then, and 1 ms the rest of the time.
  task-rust    granian runs each request's coroutine with its Rust task implementation
               (``task_impl=rust``, Python < 3.12 only) instead of an asyncio Task.
"""

from __future__ import annotations

import os
import struct
import sys
import threading

PATCHES = {p.strip() for p in os.environ.get("BENCH_WHATIF", "").split(",") if p.strip()}
KNOWN = {
    "drain-once",
    "writer-nice",
    "switch-1ms",
    "gc-50k",
    "task-rust",
    "store-proc",
    "writer-idle",
    "loop-slice",
    "switch-dyn",
}


def apply() -> None:
    unknown = PATCHES - KNOWN
    if unknown:
        raise SystemExit(f"unknown what-if patch(es): {', '.join(sorted(unknown))}")
    if "switch-1ms" in PATCHES:  # granian forks its workers after this: they inherit it
        sys.setswitchinterval(0.001)
    if "gc-50k" in PATCHES:  # inherited by the forked workers too
        import gc

        gc.set_threshold(50_000, *gc.get_threshold()[1:])
    if "store-proc" in PATCHES:  # granian forks the worker after this: it inherits the patch
        from app.settings import Settings

        Settings.uses_store_process = property(  # type: ignore[method-assign,assignment]
            lambda self: not self.clickhouse_url
        )
    if "loop-slice" in PATCHES:  # inherited by the forked workers and their threads
        _set_slice(0, 100_000)
    if "task-rust" in PATCHES:
        import granian
        from granian.constants import TaskImpl

        original_init = granian.Granian.__init__

        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            original_init(self, *args, **{**kwargs, "task_impl": TaskImpl.rust})

        granian.Granian.__init__ = __init__  # type: ignore[method-assign]
    from app.store.clickhouse import writer as writer_module

    if "drain-once" in PATCHES:
        from app.ids import uuid7_str

        def _drain(self) -> None:  # type: ignore[no-untyped-def]
            first = True
            while self._queue and (
                first or len(self._queue) >= self._batch_rows or self._stopping.is_set()
            ):
                first = False
                batch = [
                    self._queue.popleft() for _ in range(min(self._batch_rows, len(self._queue)))
                ]
                self._write(uuid7_str(), batch)

        writer_module.Writer._drain = _drain  # type: ignore[method-assign]

    if "writer-nice" in PATCHES:
        _before_writer_runs(writer_module, lambda tid: os.setpriority(os.PRIO_PROCESS, tid, 10))
    if "writer-idle" in PATCHES:
        _before_writer_runs(
            writer_module,
            lambda tid: os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0)),
        )
    if "loop-slice" in PATCHES:  # 0: the default slice, for the chDB threads it starts too
        _before_writer_runs(writer_module, lambda tid: _set_slice(tid, 0))
    if "switch-dyn" in PATCHES:
        _patch_switch_dyn(writer_module)


def _before_writer_runs(writer_module, prologue) -> None:  # type: ignore[no-untyped-def]
    """Run ``prologue(native thread id)`` in the writer thread before its loop starts."""
    original_run = writer_module.Writer._run

    def _run(self) -> None:  # type: ignore[no-untyped-def]
        prologue(threading.get_native_id())
        original_run(self)

    writer_module.Writer._run = _run


def _patch_switch_dyn(writer_module) -> None:  # type: ignore[no-untyped-def]
    for name in ("_drain", "_seal", "_replay"):
        original = getattr(writer_module.Writer, name)

        def working(self, *args, _original=original, **kwargs):  # type: ignore[no-untyped-def]
            idle = sys.getswitchinterval()
            sys.setswitchinterval(0.0002)
            try:
                return _original(self, *args, **kwargs)
            finally:
                sys.setswitchinterval(idle)

        setattr(writer_module.Writer, name, working)


def _set_slice(tid: int, slice_ns: int) -> None:
    """sched_setattr(2) with SCHED_OTHER, this thread's nice, and ``sched_runtime`` as the
    requested slice (x86_64 syscall 314)."""
    import ctypes

    nice = os.getpriority(os.PRIO_PROCESS, tid)
    attr = struct.pack("IIQiIQQQII", 56, 0, 0, nice, 0, slice_ns, 0, 0, 0, 0)
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(attr, 56)
    if libc.syscall(314, tid, buf, 0) != 0:
        raise OSError(ctypes.get_errno(), "sched_setattr")


if __name__ == "__main__":
    apply()
    from app.cli import main

    sys.exit(main(["serve"]))
