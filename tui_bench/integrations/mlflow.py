"""MLflow tracking: one MLflow run per tui-bench run, over MLflow's REST API (httpx).

Each run's params (model, prompt version, scenario, tier, specialist, generation options),
metrics (automatic score and each evaluator, judged criteria and totals, ttft, tokens/s,
tokens, cost), tags (batch id, mode, ``judge_pending``) and its prompt and output (artifacts,
or tags where the run's artifact store is not reachable over HTTP, as with a server whose
experiments keep artifacts on its own disk) go to the tracking server. The store keeps which
MLflow run mirrors which tui-bench run (``mlflow_runs``), so syncing twice creates nothing and
later judgments update the same MLflow run. Local data is never changed by a failure here: an
unreachable server is one ``MlflowError`` line naming the URI.
"""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from tui_bench.domain import Judgment, RunRecord
from tui_bench.engine.events import CellFinished, Event
from tui_bench.store import Store

API = "/api/2.0/mlflow"
ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"
MAX_TAG = 8000  # MLflow's longest tag value
MAX_PARAM = 6000
BATCH_LIMITS = {"metrics": 1000, "params": 100, "tags": 100}
RUN_STATUS = {"ok": "FINISHED", "error": "FAILED", "cancelled": "KILLED"}


class MlflowError(Exception):
    """One line naming the tracking URI and what went wrong."""


def _key(text: str) -> str:
    """A metric or param name MLflow accepts (letters, digits, _ - . / and spaces)."""
    return re.sub(r"[^\w.\-/ ]", "_", text)[:250]


def _ms(timestamp: str | None) -> int:
    if timestamp:
        try:
            return int(datetime.fromisoformat(timestamp).timestamp() * 1000)
        except ValueError:
            pass
    return int(datetime.now(UTC).timestamp() * 1000)


class MlflowClient:
    """The few REST calls tui-bench needs, with errors turned into one line."""

    def __init__(self, tracking_uri: str, *, timeout: float = 15.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        uri = tracking_uri.rstrip("/")
        if not uri.startswith(("http://", "https://")):
            raise MlflowError(f"--tracking-uri {tracking_uri!r}: give the tracking server's "
                              "http(s):// address (mlflow server)")
        self.uri = uri
        self.http = httpx.Client(base_url=uri, timeout=timeout, transport=transport)

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, *, json: Any = None,
              params: dict[str, str] | None = None, content: bytes | None = None,
              missing_ok: bool = False) -> dict[str, Any] | None:
        try:
            response = self.http.request(method, path, json=json, params=params,
                                         content=content)
        except httpx.TimeoutException:
            raise MlflowError(f"MLflow at {self.uri} did not answer in time") from None
        except httpx.HTTPError as exc:
            raise MlflowError(f"MLflow at {self.uri} is unreachable: "
                              f"{type(exc).__name__}: {exc}") from None
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code >= 400:
            try:
                body = response.json()
                reason = f"{body.get('error_code', '')}: {body.get('message', '')}"
            except ValueError:
                reason = response.text[:200].replace("\n", " ")
            raise MlflowError(f"MLflow at {self.uri} refused {path}: HTTP "
                              f"{response.status_code} {reason}")
        try:
            return response.json() if response.content else {}
        except ValueError:
            raise MlflowError(f"MLflow at {self.uri} answered {path} with something that is "
                              "not JSON (is this an MLflow server?)") from None

    def experiment_id(self, name: str) -> str:
        """The experiment's id, creating the experiment when it does not exist yet."""
        found = self._call("GET", f"{API}/experiments/get-by-name",
                           params={"experiment_name": name}, missing_ok=True)
        if found and found.get("experiment"):
            return str(found["experiment"]["experiment_id"])
        created = self._call("POST", f"{API}/experiments/create", json={"name": name}) or {}
        return str(created["experiment_id"])

    def create_run(self, experiment_id: str, *, name: str, start_ms: int,
                   tags: dict[str, str]) -> tuple[str, str]:
        body = {"experiment_id": experiment_id, "run_name": name, "start_time": start_ms,
                "tags": [{"key": k, "value": v} for k, v in tags.items()]}
        info = (self._call("POST", f"{API}/runs/create", json=body) or {})["run"]["info"]
        return str(info["run_id"]), str(info.get("artifact_uri") or "")

    def log_batch(self, run_id: str, *, metrics: dict[str, float] | None = None,
                  params: dict[str, str] | None = None, tags: dict[str, str] | None = None,
                  timestamp_ms: int | None = None) -> None:
        stamp = timestamp_ms or _ms(None)
        items: dict[str, list[dict[str, Any]]] = {
            "metrics": [{"key": k, "value": v, "timestamp": stamp, "step": 0}
                        for k, v in (metrics or {}).items()],
            "params": [{"key": k, "value": v} for k, v in (params or {}).items()],
            "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()],
        }
        while any(items.values()):
            body: dict[str, Any] = {"run_id": run_id}
            for kind, limit in BATCH_LIMITS.items():
                body[kind], items[kind] = items[kind][:limit], items[kind][limit:]
            self._call("POST", f"{API}/runs/log-batch", json=body)

    def finish_run(self, run_id: str, *, status: str, end_ms: int) -> None:
        self._call("POST", f"{API}/runs/update",
                   json={"run_id": run_id, "status": status, "end_time": end_ms})

    def upload_text(self, artifact_uri: str, name: str, text: str) -> bool:
        """Upload through the server's artifact proxy; False where the artifact store is
        not reachable over HTTP (the run's artifacts live on the server's own disk)."""
        if not artifact_uri.startswith("mlflow-artifacts:"):
            return False
        path = artifact_uri.removeprefix("mlflow-artifacts:").lstrip("/")
        self._call("PUT", f"{ARTIFACTS_API}/{quote(path)}/{quote(name)}",
                   content=text.encode("utf-8"))
        return True


# --------------------------------------------------------------------------- what is logged


def run_params(record: RunRecord) -> dict[str, str]:
    params = {"model": record.model, "backend": record.model.split(":", 1)[0],
              "prompt_version": record.prompt_version, "scenario": record.scenario_id,
              "tier": record.tier, "specialist": record.specialist or "none",
              "iteration": str(record.iteration)}
    for name, value in sorted(record.telemetry.options.items()):
        params[_key(f"options.{name}")] = str(value)
    return {k: v[:MAX_PARAM] for k, v in params.items()}


def run_metrics(record: RunRecord) -> dict[str, float]:
    tel = record.telemetry
    figures: dict[str, Any] = {
        "auto_score": record.auto_score,
        "success": None if record.success is None else float(record.success),
        "attempts": record.attempts, "retries": record.retries,
        "ttft_ms": tel.ttft_ms, "total_ms": tel.total_ms, "load_ms": tel.load_ms,
        "tokens_per_s": tel.tokens_per_s, "prompt_tokens": tel.prompt_tokens,
        "completion_tokens": tel.completion_tokens, "cost": tel.cost,
    }
    for evaluation in record.evaluations:
        figures[_key(f"eval.{evaluation.evaluator}")] = evaluation.score
    return {k: float(v) for k, v in figures.items() if v is not None}


def judged_metrics(judgments: Sequence[Judgment]) -> dict[str, float]:
    """Per judge kind (person, model): the mean total, percent and each criterion's score."""
    out: dict[str, float] = {}
    for kind in ("person", "model"):
        mine = [j for j in judgments if j.judge_kind == kind]
        if not mine:
            continue
        out[f"judged.{kind}.total"] = sum(j.total for j in mine) / len(mine)
        out[f"judged.{kind}.percent"] = sum(j.percent for j in mine) / len(mine)
        out[f"judged.{kind}.count"] = float(len(mine))
        criteria = sorted({c for j in mine for c in j.scores})
        for criterion in criteria:
            values = [j.scores[criterion] for j in mine if criterion in j.scores]
            out[_key(f"judged.{kind}.{criterion}")] = sum(values) / len(values)
    return out


def is_pending(record: RunRecord, judgments: Sequence[Judgment]) -> bool:
    """Waiting for a person, as the judging queue counts it: finished, no person judgment."""
    return record.status == "ok" and not any(j.judge_kind == "person" for j in judgments)


def prompt_text(record: RunRecord) -> str:
    return (f"[system]\n{record.system}\n\n[user]\n{record.prompt}" if record.system
            else record.prompt)


# --------------------------------------------------------------------------- sync


@dataclass
class SyncResult:
    created: int = 0
    already: int = 0
    judged_updates: int = 0
    artifacts_as_tags: int = 0


class MlflowSync:
    """Mirror tui-bench runs into one experiment of one tracking server."""

    def __init__(self, store: Store, tracking_uri: str, experiment: str, *,
                 client: MlflowClient | None = None) -> None:
        self.store = store
        self.client = client or MlflowClient(tracking_uri)
        self.tracking_uri = self.client.uri
        self.experiment = experiment
        self._experiment_id: str | None = None

    def close(self) -> None:
        self.client.close()

    @property
    def experiment_id(self) -> str:
        if self._experiment_id is None:
            self._experiment_id = self.client.experiment_id(self.experiment)
        return self._experiment_id

    def log_run(self, record: RunRecord, result: SyncResult) -> str:
        """Create and fill the MLflow run of one tui-bench run; returns its MLflow id."""
        judgments = self.store.judgments(record.run_id)
        pending = is_pending(record, judgments)
        tags = {"batch_id": record.batch_id, "mode": record.mode, "status": record.status,
                "judge_pending": "true" if pending else "false",
                "tui_bench.run_id": record.run_id}
        if record.error:
            tags["error"] = record.error[:MAX_TAG]
        start = _ms(record.started_at)
        mlflow_id, artifact_uri = self.client.create_run(
            self.experiment_id, name=f"{record.scenario_id} · {record.model}", start_ms=start,
            tags=tags)
        end = _ms(record.finished_at)
        metrics = {**run_metrics(record), **judged_metrics(judgments)}
        self.client.log_batch(mlflow_id, metrics=metrics, params=run_params(record),
                              timestamp_ms=end)
        texts = {"prompt.txt": prompt_text(record), "output.txt": record.output}
        uploaded = [self.client.upload_text(artifact_uri, name, text)
                    for name, text in texts.items()]
        if not all(uploaded):
            result.artifacts_as_tags += 1
            self.client.log_batch(mlflow_id, tags={
                "prompt": texts["prompt.txt"][:MAX_TAG], "output": texts["output.txt"][:MAX_TAG],
                "artifacts": "in tags: the artifact store is not reachable over HTTP"})
        self.client.finish_run(mlflow_id, status=RUN_STATUS.get(record.status, "FINISHED"),
                               end_ms=end)
        self.store.save_mlflow_run(run_id=record.run_id, tracking_uri=self.tracking_uri,
                                   experiment=self.experiment,
                                   experiment_id=self.experiment_id, mlflow_run_id=mlflow_id,
                                   judge_pending=pending)
        result.created += 1
        return mlflow_id

    def sync(self, run_ids: Sequence[str],
             progress: Callable[[int, int], None] | None = None) -> SyncResult:
        """Log every run not yet mirrored here; runs already mirrored get their judgments."""
        result = SyncResult()
        mapped = self.store.mlflow_mapping(self.tracking_uri, self.experiment, run_ids)
        for done, run_id in enumerate(run_ids, start=1):
            if run_id in mapped:
                result.already += 1
                if mapped[run_id]["judge_pending"]:
                    result.judged_updates += push_judgments(self.store, [mapped[run_id]],
                                                            {self.tracking_uri: self.client})
            else:
                record = self.store.get_run(run_id)
                if record is not None:
                    self.log_run(record, result)
            if progress:
                progress(done, len(run_ids))
        return result


def push_judgments(store: Store, mappings: Iterable[dict[str, Any]],
                   clients: dict[str, MlflowClient] | None = None) -> int:
    """Send the judged metrics of mapped runs and clear ``judge_pending`` where a person has
    judged; returns how many MLflow runs were updated. Raises ``MlflowError``."""
    clients = clients if clients is not None else {}
    owned = [uri for uri in {m["tracking_uri"] for m in mappings} if uri not in clients]
    updated = 0
    try:
        for mapping in mappings:
            uri = mapping["tracking_uri"]
            if uri not in clients:
                clients[uri] = MlflowClient(uri)
            judgments = store.judgments(mapping["run_id"])
            metrics = judged_metrics(judgments)
            if not metrics:
                continue
            pending = not any(j.judge_kind == "person" for j in judgments)
            clients[uri].log_batch(mapping["mlflow_run_id"], metrics=metrics,
                                   tags={"judge_pending": "true" if pending else "false"})
            if not pending:
                store.set_mlflow_judged(mapping["run_id"], uri, mapping["experiment"])
            updated += 1
    finally:
        for uri in owned:
            if uri in clients:
                clients[uri].close()
    return updated


def update_judged_runs(store: Store, run_ids: Sequence[str]) -> tuple[int, str | None]:
    """After judgments were saved: update the MLflow runs that mirror these runs, if any.

    Never raises: returns (MLflow runs updated, one-line error or None), so a judging flow
    never fails because a tracking server is away.
    """
    mappings = store.mlflow_runs_of(run_ids)
    if not mappings:
        return 0, None
    try:
        return push_judgments(store, mappings), None
    except MlflowError as exc:
        return 0, str(exc)


# --------------------------------------------------------------------------- during --run


class MlflowListener:
    """Logs each run to MLflow as it finishes, on a thread of its own.

    A consumer of the runner's events like the headless printer: the event callback only puts
    the record on a queue, so the batch never waits for the network. The first failure is
    reported in one line and logging stops; the batch and the local data are unaffected, and
    ``tui-bench mlflow sync BATCH`` catches up later.
    """

    def __init__(self, store_path: str, tracking_uri: str, experiment: str, *,
                 report: Callable[[str], None]) -> None:
        self.store_path = store_path
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.report = report
        self.logged = 0
        self.failed: str | None = None
        self._queue: queue.Queue[RunRecord | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="mlflow-listener", daemon=True)
        self._thread.start()

    def __call__(self, event: Event) -> None:
        if isinstance(event, CellFinished) and self.failed is None:
            self._queue.put(event.record)

    def _work(self) -> None:
        store: Store | None = None
        sync: MlflowSync | None = None
        result = SyncResult()
        try:
            while (record := self._queue.get()) is not None:
                if self.failed is not None:
                    continue
                try:
                    if store is None or sync is None:
                        store = Store(self.store_path)  # its own connection, on this thread
                        sync = MlflowSync(store, self.tracking_uri, self.experiment)
                    if not store.mlflow_mapping(sync.tracking_uri, self.experiment,
                                                [record.run_id]):
                        stored = store.get_run(record.run_id) or record
                        sync.log_run(stored, result)
                        self.logged += 1
                except Exception as exc:  # noqa: BLE001 - any failure: one line, batch goes on
                    self.failed = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                    self.report(f"mlflow: {self.failed}; the batch goes on and its runs stay "
                                "in the local database (tui-bench mlflow sync BATCH later)")
        finally:
            if sync is not None:
                sync.close()
            if store is not None:
                store.close()

    def close(self, timeout: float = 60.0) -> None:
        """Finish logging what is queued (bounded by ``timeout``), then stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout)
