"""The audit tests reuse the payments end-to-end world (tests/e2e/payments_world.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from payments_world import paid, payment_settings  # noqa: F401
