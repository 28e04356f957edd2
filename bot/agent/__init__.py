"""The agent console: transcripts, review and corrections, live queue and takeover, analytics."""
