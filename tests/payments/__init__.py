"""Tests of evbill.payments."""
