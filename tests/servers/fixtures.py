"""Pytest fixtures for the loopback servers. Test modules import the ones they use:

    from tests.servers.fixtures import _ollama_servers, ollama_pair  # noqa: F401

The servers are session-scoped (a model loads once per server); the function-scoped wrappers
reset recorded requests and pending faults around each test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.llama_server import LlamaServer
from tests.servers.ollama_server import OllamaTestServer
from tests.servers.openai_server import OpenAITestServer

OLLAMA_MODEL = "smollm2:135m"


@pytest.fixture(scope="session")
def _ollama_servers() -> Iterator[tuple[OllamaTestServer, OllamaTestServer]]:
    first, second = OllamaTestServer().start(), OllamaTestServer().start()
    try:
        yield first, second
    finally:
        first.close()
        second.close()


@pytest.fixture
def ollama_pair(_ollama_servers: tuple[OllamaTestServer, OllamaTestServer]
                ) -> Iterator[tuple[OllamaTestServer, OllamaTestServer]]:
    """Two Ollama-speaking servers with SmolLM2 as ``smollm2:135m``, clean for this test."""
    for server in _ollama_servers:
        server.reset()
    yield _ollama_servers
    for server in _ollama_servers:
        server.reset()


@pytest.fixture
def ollama_server(ollama_pair: tuple[OllamaTestServer, OllamaTestServer]) -> OllamaTestServer:
    return ollama_pair[0]


@pytest.fixture(scope="session")
def _openai_scripted() -> Iterator[OpenAITestServer]:
    server = OpenAITestServer().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def openai_scripted(_openai_scripted: OpenAITestServer) -> Iterator[OpenAITestServer]:
    """The scripted OpenAI-compatible server, with no queued scripts and no API key."""
    _openai_scripted.reset()
    _openai_scripted.api_key = None
    yield _openai_scripted
    _openai_scripted.reset()
    _openai_scripted.api_key = None


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """llama-cpp-python's server with SmolLM2-135M, started once for the session."""
    log = Path(tmp_path_factory.mktemp("llama-server")) / "server.log"
    server = LlamaServer(log).start()
    try:
        yield server
    finally:
        server.stop()
