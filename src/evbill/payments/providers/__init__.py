"""Payment provider adapters: `sandbox` (built in) and `stripe` (the official SDK)."""
