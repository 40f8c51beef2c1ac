"""Payments: the provider interface, the sandbox and Stripe adapters, retries and webhooks."""
