"""The demo catalog: fictional brands and products, generated from specs.py by generate.py."""
