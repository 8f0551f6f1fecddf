"""Command palette provider: every key's action, by name (theme switching comes from Textual's own commands)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:  # pragma: no cover
    from workbench.tui.app import WorkbenchApp


def workbench_commands(app: "WorkbenchApp") -> list[tuple[str, str, Callable[[], object]]]:
    """``(name, help, callback)`` for the palette, mirroring the key bindings."""
    return [
        ("Run benchmark", "Run the benchmark set up in the Setup pane (r)", app.action_run_bench),
        (
            "Stop run",
            "Stop the run in progress now; nothing partial is saved (s twice)",
            lambda: app.action_stop(confirmed=True),
        ),
        (
            "Export results as JSON",
            "Choose the file for the current results as JSON (e: any format)",
            lambda: app.action_export("json"),
        ),
        ("Export results as CSV", "Choose the file for the current results as CSV", lambda: app.action_export("csv")),
        (
            "Export results as Markdown",
            "Choose the file for the current results as a Markdown table",
            lambda: app.action_export("markdown"),
        ),
        ("Monitor runs in flight", "Follow a `workbench run` running in another session (m)", app.action_monitor),
        ("Sweep", "Threads × batch × precision × mode of the Setup's model and engines, live (w)", app.action_sweep),
        ("Show overview", "Hardware and History (1)", lambda: app.action_show_view("overview")),
        ("Show setup", "Model, engines and run settings (2)", lambda: app.action_show_view("setup")),
        ("Show live", "Live histograms of the run in progress (3)", lambda: app.action_show_view("live")),
        ("Show results", "Results of the latest run (4)", lambda: app.action_show_view("results")),
        ("Reload history", "Read the history again", app.action_reload_history),
        ("Compare marked runs", "Compare the two runs marked in History (c)", app.action_compare),
        ("Help", "List every key (?)", app.action_help),
    ]


class WorkbenchCommands(Provider):
    """Run, stop, export, monitor, views, help — by name."""

    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        return workbench_commands(self.app)  # type: ignore[arg-type]

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
