"""A Footer that rebuilds only when what it shows changes.

Textual's Footer recomposes all its keys on every bindings update — including every focus change — even when the
visible bindings (ours are app-level: r s e m ? q) stay the same. On a busy 2-core machine at 80×24 that rebuild was
most of the cost of a view switch (docs/performance.md). This subclass compares a signature of the shown bindings
first.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class QuietFooter(Footer):
    _signature: tuple | None = None

    def _shown(self, screen: Screen) -> tuple:
        return tuple(
            (binding.key, binding.description, enabled, tooltip)
            for (_, binding, enabled, tooltip) in screen.active_bindings.values()
            if binding.show
        )

    def bindings_changed(self, screen: Screen) -> None:
        if self.is_attached and screen is self.screen and self._bindings_ready:
            signature = self._shown(screen)
            if signature == self._signature:
                return
            self._signature = signature
        super().bindings_changed(screen)
