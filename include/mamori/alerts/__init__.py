"""Alerts: identity and grouping, the ledger, rendering, dispatch to registered outputs."""
