"""The staff consoles: accounts, sessions, CSRF, and the knowledge-base admin pages."""
