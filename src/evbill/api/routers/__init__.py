"""API routers, one per resource group."""
