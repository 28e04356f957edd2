"""Products: the catalog import, the search index and (later) recommendations."""
