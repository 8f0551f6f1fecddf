"""The main screen's layout: five panes in two columns, shown by view on small terminals, all at once on big ones.

Narrow (below 120×36): one *view* at a time — ``overview`` (Hardware + History), ``setup``, ``live``,
``results`` — chosen with the tab bar or the keys 1-4. Wide (120×36 and up): Hardware and Setup on the left,
Live, Results and History on the right, all visible.

A view switch sets ``display``/``height`` on the two columns and five panes directly instead of toggling a class
on the workspace: a class change restyles every widget below it (hundreds of nodes, a visible pause on a busy
machine), an inline style touches seven.
"""

from __future__ import annotations

from textual.containers import Horizontal

VIEWS: tuple[str, ...] = ("overview", "setup", "live", "results")
#: Minimum terminal size (columns, rows) for the all-panes layout.
WIDE_MIN: tuple[int, int] = (120, 36)

#: narrow layout: view -> {node id: height (None: hidden)}
_NARROW: dict[str, dict[str, str | None]] = {
    "overview": {
        "col-left": "auto",
        "col-right": "1fr",
        "hardware": "auto",
        "setup": None,
        "live": None,
        "results": None,
        "history": "1fr",
    },
    "setup": {
        "col-left": "1fr",
        "col-right": None,
        "hardware": None,
        "setup": "1fr",
        "live": None,
        "results": None,
        "history": None,
    },
    "live": {
        "col-left": None,
        "col-right": "1fr",
        "hardware": None,
        "setup": None,
        "live": "1fr",
        "results": None,
        "history": None,
    },
    "results": {
        "col-left": None,
        "col-right": "1fr",
        "hardware": None,
        "setup": None,
        "live": None,
        "results": "1fr",
        "history": None,
    },
}


class Workspace(Horizontal):
    DEFAULT_CSS = """
    Workspace {
        layout: vertical;
        height: 1fr;
    }
    Workspace > #col-left, Workspace > #col-right {
        width: 1fr;
        height: auto;
    }

    Workspace.-wide {
        layout: horizontal;
    }
    Workspace.-wide > #col-left {
        width: 2fr;
        max-width: 64;
        min-width: 50;
        height: 1fr;
    }
    Workspace.-wide > #col-right {
        width: 3fr;
        height: 1fr;
    }
    Workspace.-wide #hardware { height: auto; }
    Workspace.-wide #setup { height: 1fr; }
    Workspace.-wide #live { height: 5fr; }
    Workspace.-wide #results { height: 3fr; }
    Workspace.-wide #history { height: 2fr; }
    """

    def show_view(self, view: str, wide: bool, live_first: str = "results") -> None:
        """Show ``view`` (narrow) or every pane (wide; ``live_first`` — ``"run"`` gives Live the larger share while a
        run is in flight, ``"results"`` gives it to Results, ``"idle"`` (nothing run yet) keeps Live to a few lines
        and leaves the room to Results and History)."""
        if self.has_class("-wide") != wide:
            self.set_class(wide, "-wide")
        plan = _NARROW.get(view, _NARROW["overview"])
        for node_id, height in plan.items():
            widget = self.get_child_by_id(node_id) if node_id.startswith("col-") else self.query_one(f"#{node_id}")
            if wide:
                widget.styles.height = _WIDE_HEIGHTS.get((node_id, live_first))  # None: the -wide rules decide
                widget.display = True
            elif height is None:
                widget.display = False
            else:
                widget.styles.height = height
                widget.display = True


#: wide layout: (pane, state) -> height overriding the -wide rules
_WIDE_HEIGHTS: dict[tuple[str, str], str] = {
    ("live", "run"): "7fr",
    ("results", "run"): "2fr",
    ("history", "run"): "2fr",
    ("live", "results"): "2fr",
    ("results", "results"): "5fr",
    ("live", "idle"): "6",
    ("results", "idle"): "3fr",
    ("history", "idle"): "3fr",
}
