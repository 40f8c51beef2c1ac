"""Alembic migrations of the evbill schema (run with `evbill db upgrade`)."""
