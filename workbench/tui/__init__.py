"""The Inference Workbench TUI (Textual).

Public API: :func:`workbench.tui.app.run_app` (what ``workbench`` with no subcommand calls),
:class:`workbench.tui.app.WorkbenchApp` and :func:`workbench.tui.serve.serve` (``workbench serve``).
Importing this package imports nothing else: the headless core never needs Textual.
"""
