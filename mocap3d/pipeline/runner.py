"""Run every session of a project, serially or as Dask tasks, and report what happened.

One Dask task per session (its stages run in order inside it): sessions are
independent, and a session's stages share files on disk, not memory. By
default the tasks go to a ``LocalCluster`` of worker *processes* on loopback
(``workers`` of them, one thread each: the numerical code is single-threaded
numpy, and processes sidestep the GIL); ``scheduler="tcp://host:8786"`` sends
them to an existing cluster instead, whose workers must see the project folder
at the same path and have mocap3d installed. ``workers=0`` runs in this
process, serially (what the tests compare the parallel run against).

A session that fails is reported with its reason (the first failing stage and
its message) and never stops the others. Because every stage is resumable, a
run that was killed is finished by running it again.
"""

from __future__ import annotations

import contextlib
import logging
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import MocapError, describe_os_error, is_disk_full
from .config import ProjectConfig, ProjectError, Session, find_sessions, load_config
from .manifest import remove_stale_lock, session_lock
from .stages import STAGE_ORDER, SessionContext, StageOutcome, check_stage, run_stage

__all__ = ["SessionResult", "ProjectReport", "run_session", "run_project", "run_stage_limited", "select_stages"]

log = logging.getLogger(__name__)

#: Stages whose libraries manage their own threads (left out of the one-BLAS-thread limit).
OWN_THREADS = frozenset({"train", "analyze"})


@dataclass
class SessionResult:
    """One session's outcome: every stage's :class:`StageOutcome`, and the reason if it failed."""

    session: str
    stages: list[StageOutcome] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.error

    def count(self, status: str) -> int:
        return sum(s.status == status for s in self.stages)


@dataclass
class ProjectReport:
    """Every session's result, with the run's wall time and worker count."""

    root: Path
    sessions: list[SessionResult]
    seconds: float
    workers: int
    scheduler: str

    @property
    def failed(self) -> list[SessionResult]:
        return [s for s in self.sessions if not s.ok]

    @property
    def sessions_per_minute(self) -> float:
        return 60.0 * len(self.sessions) / self.seconds if self.seconds > 0 else float("nan")

    def table(self) -> str:
        """A fixed-width summary: one row per session (stages done/skipped, time, reason if it failed)."""
        width = max([len(s.session) for s in self.sessions] + [7])
        rows = [f"{'session':<{width}}  {'status':<6}  {'done':>4}  {'skipped':>7}  {'seconds':>7}  reason"]
        for s in self.sessions:
            status = "ok" if s.ok else "FAILED"
            rows.append(f"{s.session:<{width}}  {status:<6}  {s.count('done'):>4}  {s.count('skipped'):>7}  "
                        f"{s.seconds:>7.1f}  {s.error}")  # fmt: skip
        ok = len(self.sessions) - len(self.failed)
        rows.append(f"{ok} of {len(self.sessions)} sessions ok in {self.seconds:.1f} s "
                    f"({self.sessions_per_minute:.1f} sessions/min, {self.scheduler})")  # fmt: skip
        return "\n".join(rows)


def select_stages(stages: Sequence[str] | None) -> tuple[str, ...]:
    """The stages to run, in pipeline order; unknown names are an error that lists the known ones."""
    if not stages:
        return STAGE_ORDER
    unknown = [s for s in stages if s not in STAGE_ORDER]
    if unknown:
        raise ProjectError(f"unknown stage(s) {', '.join(unknown)}; choose among {', '.join(STAGE_ORDER)}.")
    return tuple(s for s in STAGE_ORDER if s in stages)


def run_session(session: Session, config: ProjectConfig, stages: Sequence[str], force: bool = False) -> SessionResult:
    """Run ``stages`` of one session in order; stop at the first failure and return its reason (never raises)."""
    start = time.time()
    result = SessionResult(session.name)
    try:
        with session_lock(session.folder("manifests"), session.name):
            _run_stages(session, config, stages, force, result)
    except MocapError as exc:  # the lock is held by another run
        result.error = f"locked: {exc}"
    except OSError as exc:  # the session's folder cannot be written (its lock, its manifests)
        result.error = describe_os_error(exc)
    result.seconds = time.time() - start
    return result


def _run_stages(session: Session, config: ProjectConfig, stages: Sequence[str], force: bool,
                result: SessionResult) -> None:  # fmt: skip
    ctx = SessionContext(session, config)
    for name in stages:
        try:
            outcome = run_stage_limited(name, ctx, force=force)
        except MocapError as exc:
            result.error = f"{name}: {exc}"
        except OSError as exc:  # permission denied, disk full, a missing folder: one sentence naming the path
            result.error = f"{name}: {describe_os_error(exc)}"
        except Exception as exc:  # a crash in one session must not stop the others; keep the evidence
            log.debug("session %s, stage %s:\n%s", session.name, name, traceback.format_exc())
            if is_disk_full(exc):  # HDF5 reports a full disk as its own error type
                result.error = f"{name}: {describe_os_error(exc)}"
            else:
                result.error = f"{name}: unexpected {type(exc).__name__}: {exc}"
        if result.error:
            result.stages.append(StageOutcome(name, "failed", note=result.error))
            break
        result.stages.append(outcome)
        log.info("%s %s: %s %s", session.name, name, outcome.status, outcome.note)


def run_stage_limited(name: str, ctx: SessionContext, force: bool = False) -> StageOutcome:
    """:func:`~.stages.run_stage` as ``mocap3d run`` runs it (and ``mocap3d demo``, through the same function).

    One BLAS thread wherever the session runs: Dask workers get one (its nanny sets OMP/MKL/OpenBLAS threads
    to 1), and a threaded BLAS sums in another order, so outputs would differ in the last bits. The network
    stages keep their threads: torch and ONNX Runtime use every core of a serial run.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1) if name not in OWN_THREADS else contextlib.nullcontext():
        return run_stage(name, ctx, force=force)


def _if_complete(session: Session, config: ProjectConfig, stages: Sequence[str]) -> SessionResult | None:
    """The session's result if every stage is complete or not needed (nothing runs), else None."""
    start = time.time()
    result = SessionResult(session.name)
    ctx = SessionContext(session, config)
    for name in stages:
        try:
            outcome = check_stage(name, ctx)
        except Exception:  # let the real run report it
            return None
        if outcome is None:
            return None
        result.stages.append(outcome)
    remove_stale_lock(session.folder("manifests"), session.name)
    result.seconds = time.time() - start
    return result


def _progress(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="session", desc="sessions", disable=not enabled)


def run_project(
    root: str | Path,
    stages: Sequence[str] | None = None,
    workers: int = 2,
    scheduler: str | None = None,
    force: bool = False,
    progress: bool = True,
) -> ProjectReport:
    """Run the selected stages over every session of the project at ``root``.

    Parameters
    ----------
    stages : names from :data:`~mocap3d.pipeline.stages.STAGE_ORDER` (default: all).
    workers : Dask worker processes of the local cluster (``0``: serial, in this process).
    scheduler : address of an existing Dask scheduler (``tcp://host:8786``); overrides ``workers``.
    force : redo stages even when their outputs are complete.

    A folder whose ``config.toml`` is anipose's runs as an anipose project
    (:mod:`.anipose_project`): its sessions, trials and output files, serially.

    Call from under ``if __name__ == "__main__":`` in scripts: the local
    cluster starts worker processes.
    """
    root = Path(root).resolve()
    from .anipose_project import read_anipose_config

    anipose = read_anipose_config(root) if root.is_dir() else None
    if anipose is not None:  # an anipose project, run as it is (its config, nesting, trials and outputs)
        report = _run_anipose_project(anipose, stages, force)
        log.info("%s", report.table())
        return report
    config = load_config(root)
    chosen = select_stages(stages)
    sessions = find_sessions(root)
    if not sessions:
        raise ProjectError(f"no session under {root}: a session is a folder with pose-2d/ or videos-raw/ inside.")
    start = time.time()
    # Finished sessions are recognised here, without starting a cluster for them.
    results = [r for r in (_if_complete(s, config, chosen) for s in sessions) if r is not None] if not force else []
    done = {r.session for r in results}
    todo = [s for s in sessions if s.name not in done]
    if not todo:
        label = "nothing to do"
    elif scheduler is None and workers <= 0:
        with _progress(len(todo), progress) as bar:
            for s in todo:
                results.append(run_session(s, config, chosen, force))
                bar.update()
        label = "serial"
    else:
        ran, label = _run_dask(todo, config, chosen, force, workers, scheduler, progress)
        results += ran
    order = {s.name: i for i, s in enumerate(sessions)}
    results.sort(key=lambda r: order[r.session])
    report = ProjectReport(root, results, time.time() - start, workers if scheduler is None else 0, label)
    log.info("%s", report.table())
    return report


def _run_anipose_project(config, stages: Sequence[str] | None, force: bool) -> ProjectReport:
    """Every session of an anipose project (:mod:`.anipose_project`), serially; sessions without a trial
    (anipose visits every folder at the nesting level) are left out of the report."""
    from .anipose_project import anipose_sessions, anipose_stages, run_anipose_session

    chosen = anipose_stages(config, stages)
    sessions = anipose_sessions(config)
    if not sessions:
        raise ProjectError(f"no session in the anipose project {config['_root']} at nesting = {config['nesting']}; "
                           "check the nesting level of config.toml.")  # fmt: skip
    start = time.time()
    results = []
    for session in sessions:
        r = run_anipose_session(config, session, chosen, force)
        results.append(SessionResult(r.session, r.stages, r.error, r.seconds))
    kept = [r for r in results if r.error or any(o.status != "not needed" for o in r.stages)] or results
    return ProjectReport(Path(config["_root"]), kept, time.time() - start, 0, "anipose project, serial")


def _run_dask(sessions, config, stages, force, workers, scheduler, progress) -> tuple[list[SessionResult], str]:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ProjectError('Dask is missing: `pip install "dask[distributed]"`, or run with --workers 0.') from None
    if not log.isEnabledFor(logging.DEBUG):  # the scheduler's chatter is not the user's business
        logging.getLogger("distributed").setLevel(logging.WARNING)
    cluster = None
    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as exc:
            raise ProjectError(f"cannot reach the Dask scheduler at {scheduler} ({exc}); check the address.") from None
        label = f"scheduler {scheduler}"
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=":0", silence_logs=logging.WARNING)  # fmt: skip
        client = Client(cluster)
        label = f"{workers} local worker process{'es' if workers != 1 else ''}"
    try:
        futures = {client.submit(run_session, s, config, stages, force, key=f"session-{i}-{s.name}", pure=False): s
                   for i, s in enumerate(sessions)}  # fmt: skip
        results = []
        with _progress(len(sessions), progress) as bar:
            for future in as_completed(futures):
                session = futures[future]
                try:
                    results.append(future.result())
                except Exception as exc:  # the worker died (killed, out of memory): report, keep going
                    results.append(SessionResult(session.name, error=f"worker lost: {type(exc).__name__}: {exc}"))
                bar.update()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return results, label
