"""Rendering results: text tables, exporters (JSON, CSV, Markdown) and text reports."""
