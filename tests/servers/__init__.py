"""Loopback servers for backend tests: an Ollama-speaking server with real generations behind
it, a scripted OpenAI-compatible server for faults, and llama-cpp-python's own server."""
