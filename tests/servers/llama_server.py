"""llama-cpp-python's own OpenAI-compatible server, started as a subprocess on a free port."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from .loopback import free_port
from .ollama_server import smollm2_gguf

MODEL_ALIAS = "smollm2-135m-instruct"


class LlamaServer:
    """``python -m llama_cpp.server`` serving SmolLM2-135M; ``base_url`` ends in ``/v1``."""

    def __init__(self, log_path: Path, *, n_ctx: int = 2048, api_key: str | None = None) -> None:
        self.log_path = log_path
        self.n_ctx = n_ctx
        self.api_key = api_key
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout_s: float = 90.0) -> "LlamaServer":
        for _ in range(3):  # a free port can be taken between choosing it and binding it
            self.port = free_port()
            cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_gguf()),
                   "--model_alias", MODEL_ALIAS, "--host", "127.0.0.1",
                   "--port", str(self.port), "--n_ctx", str(self.n_ctx), "--verbose", "False",
                   "--n_threads", "1", "--n_threads_batch", "1"]
            if self.api_key:
                cmd += ["--api_key", self.api_key]
            log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
            log.close()
            if self._wait(timeout_s):
                return self
            self.stop()
        raise RuntimeError(f"llama_cpp.server did not start; see {self.log_path}:\n"
                           + self.log_path.read_text(errors="replace")[-2000:])

    def _wait(self, timeout_s: float) -> bool:
        assert self.proc is not None
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if httpx.get(f"{self.base_url}/models", headers=headers, timeout=2).status_code \
                        == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        return False

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
