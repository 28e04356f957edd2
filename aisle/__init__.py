"""Shared core of Aisle: configuration, logging and the SQL storage every service uses."""
