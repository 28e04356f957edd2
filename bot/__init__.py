"""Aisle's web app: the shopper chat page, health page and (later) the widget gateway and consoles."""
