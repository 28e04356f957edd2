"""The FAQ knowledge base: entries with versions, import/export, and semantic retrieval."""
