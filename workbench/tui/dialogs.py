"""Small modal dialogs: a yes/no confirmation, the tag editor of the History pane, and the export dialog.

:class:`ConfirmDialog` dismisses with ``True`` (yes) or ``False`` (no, escape, the default button);
:class:`TagDialog` with ``(add, remove)`` tag tuples or ``None``; :class:`ExportDialog` writes the file itself (in
a thread worker, through :mod:`workbench.tui.services`) and dismisses with the path written or ``None``. None of
them touches the history: the app applies a tag change or a delete in its own workers.

Keys are safe in every dialog: letters typed into a field are text (an Input consumes printable keys before any
binding sees them); the dialog's own letter keys (``y``/``n``) act only while no field has the focus.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

if TYPE_CHECKING:  # pragma: no cover
    from workbench.result import RunRecord

__all__ = ["ConfirmDialog", "TagDialog", "ExportDialog", "parse_tags", "runs_label"]

_DIALOG_CSS = """
    align: center middle;
    & > .small-dialog {
        width: 100%;
        max-width: 76;
        height: auto;
        max-height: 100%;
        border: round $primary;
        border-title-color: $primary;
        border-title-style: bold;
        background: $surface;
        padding: 0 1;
    }
    & .dialog-body {
        height: auto;
        max-height: 12;
    }
    & .dialog-row {
        height: auto;
        margin-top: 1;
    }
    & .dialog-label {
        width: 8;
        padding-top: 0;
        color: $text-muted;
    }
    & .dialog-error {
        height: auto;
        color: $error;
    }
    & .dialog-error.-empty {
        display: none;
    }
    & .dialog-buttons {
        height: auto;
        align-horizontal: right;
        margin-top: 1;
    }
    & .dialog-buttons Button {
        margin-left: 1;
    }
    & .small-hint {
        height: auto;
        color: $text-muted;
    }
"""


def runs_label(records: Sequence["RunRecord"], limit: int = 6) -> list[str]:
    """One line per run (``id · model · engines · when``), at most ``limit`` and then ``… and N more``."""
    from workbench.tui.format import engines_label, when

    lines = []
    for rec in records[:limit]:
        engines = engines_label(dict.fromkeys(r.engine for r in rec.results), compact=True)
        kind = f"sweep×{len(rec.results)} " if rec.kind == "sweep" else ""
        model = str((rec.model or {}).get("name") or "?")
        lines.append(f"{rec.run_id} · {model} · {kind}{engines} · {when(rec.created)}")
    if len(records) > limit:
        lines.append(f"… and {len(records) - limit} more")
    return lines


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


# ------------------------------------------------------------------------------------------------------ confirm


class ConfirmDialog(ModalScreen[bool]):
    """Ask before doing something that cannot be undone. ``y`` (or the yes button) dismisses with True; ``n``,
    escape, or enter on the default (the no button, which has the focus) with False."""

    DEFAULT_CSS = "ConfirmDialog {" + _DIALOG_CSS + "}"
    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm-yes", tooltip="Yes: do it"),
        Binding("n", "answer(False)", "No", id="confirm-no", tooltip="No: leave everything as it is"),
        Binding("escape", "answer(False)", "No", show=False, id="confirm-escape", tooltip="No (same as n)"),
    ]

    def __init__(self, title: str, body: str, yes: str = "Yes", no: str = "No", danger: bool = True) -> None:
        super().__init__()
        self._title, self._body, self._yes, self._no, self._danger = title, body, yes, no, danger

    def compose(self) -> ComposeResult:
        with Vertical(classes="small-dialog", id="confirm-dialog"):
            yield Static(self._body, classes="dialog-body", id="confirm-body", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(
                    f"{self._yes} (y)", variant="error" if self._danger else "primary", id="confirm-yes", compact=True
                )
                yield Button(f"{self._no} (n)", id="confirm-no", compact=True)
            yield Static(f"y {self._yes.lower()} · n / escape {self._no.lower()}", classes="small-hint")

    def on_mount(self) -> None:
        self.query_one("#confirm-dialog").border_title = self._title
        self.query_one("#confirm-no", Button).focus()  # enter keeps: the safe answer is the default

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm-yes")


# ---------------------------------------------------------------------------------------------------------- tags


def parse_tags(text: str) -> tuple[list[str], list[str]]:
    """The tag field's words: ``(keep, remove)``; ``-tag`` asks to remove ``tag``. Words are separated by spaces or
    commas."""
    keep: list[str] = []
    remove: list[str] = []
    for word in text.replace(",", " ").split():
        if word.startswith("-") and len(word) > 1:
            remove.append(word[1:])
        elif word != "-":
            keep.append(word)
    return list(dict.fromkeys(keep)), list(dict.fromkeys(remove))


class TagDialog(ModalScreen["tuple[tuple[str, ...], tuple[str, ...]] | None"]):
    """Edit the tags of one or several runs. The field starts with the tags every chosen run carries: words added
    are added to each run, words deleted are removed from each, ``-tag`` removes a tag from every run that has it.
    Dismisses with ``(add, remove)`` (both empty: nothing changed) or None (escape)."""

    DEFAULT_CSS = "TagDialog {" + _DIALOG_CSS + "} TagDialog Input { width: 1fr; }"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="tag-cancel", tooltip="Close without changing a tag")]

    def __init__(self, records: Sequence["RunRecord"]) -> None:
        super().__init__()
        self.records = tuple(records)
        sets = [list(r.tags) for r in self.records]
        every = [t for t in (sets[0] if sets else []) if all(t in s for s in sets)]
        self.common: list[str] = every
        self.some: list[str] = [t for t in dict.fromkeys(t for s in sets for t in s) if t not in every]

    def compose(self) -> ComposeResult:
        with Vertical(classes="small-dialog", id="tag-dialog"):
            yield Static("\n".join(runs_label(self.records)), classes="dialog-body", markup=False)
            if self.some:
                yield Static("on some of them: " + ", ".join(self.some) + "  (-tag removes one)", classes="small-hint")
            with Horizontal(classes="dialog-row"):
                yield Label("Tags", classes="dialog-label")
                yield Input(
                    " ".join(self.common),
                    placeholder="ci nightly …",
                    id="tag-input",
                    compact=True,
                    select_on_focus=False,
                )
            yield Static("", classes="dialog-error -empty", id="tag-error")
            yield Static(
                "words are tags · delete one to remove it · enter saves · escape cancels", classes="small-hint"
            )

    def on_mount(self) -> None:
        n = len(self.records)
        self.query_one("#tag-dialog").border_title = "Tags of " + (
            f"run {self.records[0].run_id}" if n == 1 else _plural(n, "run")
        )
        self.query_one("#tag-input", Input).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted, "#tag-input")
    def _submitted(self, event: Input.Submitted) -> None:
        from workbench.result import retagged

        event.stop()
        keep, remove = parse_tags(event.value)
        try:
            retagged([], add=keep)
        except ValueError as exc:
            error = self.query_one("#tag-error", Static)
            error.update(Content(str(exc)))
            error.remove_class("-empty")
            return
        add = tuple(t for t in keep if t not in self.common or t in remove)
        removed = tuple(dict.fromkeys([*(t for t in self.common if t not in keep), *remove]))
        self.dismiss((tuple(t for t in add if t not in removed), removed))


# -------------------------------------------------------------------------------------------------------- export


class ExportDialog(ModalScreen["Path | None"]):
    """Export runs: choose the format (JSON, CSV, Markdown, HTML) and the file (prefilled with
    :func:`workbench.tui.services.default_export_path`). A folder that does not exist, a folder given as the file,
    or HTML for several runs is one line under the field; an existing file asks before it is overwritten. The file
    is written in a thread worker; the dialog dismisses with its path."""

    DEFAULT_CSS = (
        "ExportDialog {"
        + _DIALOG_CSS
        + """}
    ExportDialog #export-format {
        layout: horizontal;
        width: 1fr;
        height: auto;
        border: none;
        padding: 0;
        background: $surface;
    }
    ExportDialog #export-format:focus-within {
        background: $panel;
    }
    ExportDialog #export-format RadioButton {
        width: auto;
        margin-right: 2;
    }
    ExportDialog Input {
        width: 1fr;
    }
    """
    )
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="export-cancel", tooltip="Close without writing")]

    def __init__(self, records: Sequence["RunRecord"], fmt: str = "json", title: str | None = None) -> None:
        from workbench.tui import services

        super().__init__()
        self.records = tuple(records)
        choices = [f for f, _, _ in services.EXPORT_CHOICES]
        self.fmt = fmt if fmt in choices else "json"
        self._title = title
        self._default = str(services.default_export_path(self.records, self.fmt))

    def compose(self) -> ComposeResult:
        from workbench.tui import services

        with Vertical(classes="small-dialog", id="export-dialog"):
            yield Static("\n".join(runs_label(self.records, limit=4)), classes="dialog-body", markup=False)
            with Horizontal(classes="dialog-row"):
                yield Label("Format", classes="dialog-label")
                with RadioSet(id="export-format", compact=True):
                    for fmt, label, _ in services.EXPORT_CHOICES:
                        yield RadioButton(label, value=fmt == self.fmt, id=f"export-{fmt}", compact=True)
            with Horizontal(classes="dialog-row"):
                yield Label("File", classes="dialog-label")
                yield Input(self._default, id="export-path", compact=True, select_on_focus=False)
            yield Static("", classes="dialog-error -empty", id="export-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Export", variant="primary", id="export-ok", compact=True)
                yield Button("Cancel", id="export-cancel", compact=True)
            yield Static("tab: format ←→ · enter writes the file · escape cancels", classes="small-hint")

    def on_mount(self) -> None:
        n = len(self.records)
        self.query_one("#export-dialog").border_title = self._title or (
            f"Export run {self.records[0].run_id}" if n == 1 else f"Export {_plural(n, 'run')}"
        )
        field = self.query_one("#export-path", Input)
        field.focus()
        field.cursor_position = len(field.value)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _error(self, text: str) -> None:
        error = self.query_one("#export-error", Static)
        error.update(Content(text))
        error.set_class(not text, "-empty")

    @on(RadioSet.Changed, "#export-format")
    def _format_changed(self, event: RadioSet.Changed) -> None:
        from workbench.tui import services

        event.stop()
        old = self.fmt
        self.fmt = (event.pressed.id or "export-json").removeprefix("export-")
        suffixes = {f: s for f, _, s in services.EXPORT_CHOICES}
        field = self.query_one("#export-path", Input)
        if field.value.endswith("." + suffixes[old]):  # the suffix follows the format
            field.value = field.value[: -len(suffixes[old])] + suffixes[self.fmt]
            field.cursor_position = len(field.value)
        self._error("")

    @on(Input.Submitted, "#export-path")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.export()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "export-ok":
            self.export()
        else:
            self.dismiss(None)

    def export(self) -> None:
        """Check the file name; ask before overwriting; then write in a worker."""
        from workbench.tui import services

        try:
            path, exists = services.export_target(self.query_one("#export-path", Input).value, self.records, self.fmt)
        except Exception as exc:
            self._error(_one_line(exc))
            return
        self._error("")
        if exists:

            def answered(yes: bool | None) -> None:
                if yes:
                    self._write(path, self.fmt)
                else:
                    self.query_one("#export-path", Input).focus()

            self.app.push_screen(
                ConfirmDialog("File exists", f"{path} exists. Overwrite it?", yes="Overwrite", no="Keep"),
                callback=answered,
            )
            return
        self._write(path, self.fmt)

    @work(thread=True, exclusive=True, exit_on_error=False, group="export", description="Writing the export")
    def _write(self, path: Path, fmt: str) -> None:
        from workbench.tui import services

        try:
            written = services.write_export(self.records, fmt, path)
        except Exception as exc:
            self.app.call_from_thread(self._error, _one_line(exc))
            return
        self.app.call_from_thread(self.dismiss, written)


def _one_line(exc: BaseException) -> str:
    from workbench.errors import WorkbenchError

    if isinstance(exc, WorkbenchError):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
