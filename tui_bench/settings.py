"""Run-time settings: where the backends are and how to talk to them.

One pydantic object built once (from flags and the environment) and injected into the engine,
the CLI and the app, so nothing reads the environment behind anyone's back.
"""

from __future__ import annotations

import os

from pydantic import BaseModel, Field


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


class Settings(BaseModel):
    """Backend configuration shared by every front end."""

    ollama_hosts: list[str] = Field(default_factory=list)
    """Ollama servers (``http://host:11434``); cells are spread over them. From ``OLLAMA_HOST``."""

    keep_alive: str | float | None = None
    """How long Ollama keeps a model loaded after a call; ``0`` unloads it right away."""

    max_model_b: float | None = None
    """Refuse models above this many billion parameters, before any call."""

    openai_base_url: str | None = None
    """An OpenAI-compatible server (``http://localhost:8000/v1``). From ``OPENAI_BASE_URL``."""

    openai_base_urls: list[str] = Field(default_factory=list)
    """Replicas of one OpenAI-compatible model (several ``--openai-base-url``); cells are spread
    over them and ``openai_base_url``, each replica with its own slots and health."""

    adaptive: bool = False
    """Find each host's slots by probing (``--adaptive``), even where a default says how many
    (Ollama's one). OpenAI-compatible servers, which give no hint, are probed anyway."""

    openai_api_key: str | None = None
    """Bearer token for that server. From ``OPENAI_API_KEY``."""

    price_in_per_m: float | None = None
    """Price per million prompt tokens, so cost can be computed."""

    price_out_per_m: float | None = None
    """Price per million completion tokens."""

    request_timeout_s: float = 600.0
    """Longest wait for a response to start: a cold load plus prefill on a slow machine."""

    stall_timeout_s: float = 120.0
    """Longest silence inside a stream before it counts as stalled (``--stall-timeout``)."""

    cell_deadline_s: float | None = Field(default=None, gt=0)
    """Longest a cell may take from its first request, retries included (``--cell-deadline``);
    past it the cell ends as failed. ``None``: no deadline beyond the stall limit."""

    max_answer_bytes: int = Field(default=1 << 20, gt=0)
    """Largest answer (UTF-8 bytes) a cell accepts (``--max-answer-bytes``); a bigger one ends
    the cell as failed, so a flooding server cannot grow the process."""

    agent_timeout_s: float = 900.0
    """Longest an agent cell may work (all its turns and commands) before its loop ends."""

    max_retries: int = 2
    """Retries of a transient fault (refused, reset, 5xx, 429, stall) before a cell fails."""

    retry_base_s: float = 1.0
    """First retry delay; doubled for each later retry."""

    embedded_threads: int | None = None
    """Threads for the in-process model; half the cores by default (llama.cpp's own choice)."""

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        env: dict[str, object] = {
            "ollama_hosts": _split(os.environ.get("OLLAMA_HOST")),
            "openai_base_url": next(iter(_split(os.environ.get("OPENAI_BASE_URL"))), None),
            "openai_base_urls": _split(os.environ.get("OPENAI_BASE_URL")),
            "openai_api_key": os.environ.get("OPENAI_API_KEY") or None,
        }
        env.update({k: v for k, v in overrides.items() if v is not None and v != []})
        return cls.model_validate(env)
