"""The HTTP API (FastAPI): drivers, operators, ad hoc payment, provider webhooks."""
