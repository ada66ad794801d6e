"""One module per command; the CLI imports only the one it runs."""
