"""Rasa custom actions, one module per concern. Served by rasa-sdk from .venv (port 5055)."""
