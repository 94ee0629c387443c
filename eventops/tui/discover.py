"""What the app can do, for ``?`` and the command palette: this app's keys, by view and role.

Everything here is read from the bindings the app actually bound for the
token's role (mutating keys exist only where the role may use them, device
verbs only where the device's driver offers them), so help and palette can
never promise a key that does nothing. Framework keys (cursor movement,
focus, …) are left out: only bindings with one of our ids (every id has a
string in :mod:`eventops.tui.i18n`) are listed.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from textual.binding import Binding
from textual.dom import DOMNode
from textual.screen import Screen

from eventops.tui.core import CoreApp
from eventops.tui.keybar import GLOBAL_IDS

THEMES = ("dark", "light", "terminal")


class Key(NamedTuple):
    key: str
    description: str
    action: str
    node: DOMNode
    id: str


def _ours(app: CoreApp, b: Binding) -> bool:
    return bool(b.id) and b.id in app.tr.keys


def node_keys(app: CoreApp, node: DOMNode) -> list[Key]:
    """The node's own bindings (ours only), in the order they were bound."""
    out: list[Key] = []
    seen: set[str] = set()
    bound = node._bindings.copy()
    if app._keymap:
        bound.apply_keymap(app._keymap)  # the user's keys, as the screen's bindings have them
    for bindings in bound.key_to_bindings.values():
        for b in bindings:
            if not _ours(app, b) or b.id in seen or b.id in GLOBAL_IDS:
                continue
            seen.add(b.id or "")
            out.append(Key(app.get_key_display(b), app.tr(b.id or ""), b.action, node, b.id or ""))
    return out


def view_node(app: CoreApp, view: str) -> DOMNode | None:
    """The widget that holds a view's keys (its table, or the view itself)."""
    table = app._table_in(view)
    if table is not None:
        return table
    found = app.query(f"#{view}")
    return found.first() if found else None


def view_keys(app: CoreApp, view: str) -> list[Key]:
    node = view_node(app, view)
    return [] if node is None else node_keys(app, node)


def role_keys(app: CoreApp) -> list[Key]:
    """Keys bound on the app for the role (announcements, pause): every view has them."""
    return node_keys(app, app)


def global_keys(app: CoreApp) -> list[tuple[str, str]]:
    """``:``, ``/``, esc, ``?``, q and the palette, with what they do."""
    out = []
    bound = app._bindings.copy()
    if app._keymap:
        bound.apply_keymap(app._keymap)
    for bindings in bound.key_to_bindings.values():
        for b in bindings:
            if b.id in GLOBAL_IDS:
                out.append((app.get_key_display(b), app.tr(b.id)))
    out.append(("^p", app.tr("help.palette")))
    return out


def commands(app: CoreApp) -> list[tuple[str, str]]:
    """Every ``:`` command the role has, with what it does."""
    tr = app.tr
    out = [(f":{v}", f"{tr('palette.view')}: {tr('view.' + v)}") for v in app.views if v != "none"]
    if app.role == "technician":
        out.append((":provision", f"{tr('palette.view')}: {tr('view.provision')}"))
    out.append((":help", tr("app.help")))
    out.append((":quit", tr("app.quit")))
    out.append((":theme " + "|".join(THEMES), tr("palette.theme")))
    return out


def screen_keys(app: CoreApp, screen: Screen[Any]) -> list[Key]:
    """The keys of a screen over the views (a device's detail, Provision)."""
    return node_keys(app, screen)


def other_screens(app: CoreApp) -> list[tuple[str, list[tuple[str, str]]]]:
    """Screens not open now and their keys for this role (device verbs: where offered)."""
    tr = app.tr
    out: list[tuple[str, list[tuple[str, str]]]] = []
    detail = [("⏎", tr("help.open_detail")), ("esc", tr("detail.back"))]
    if app.may("maintenance"):
        detail.append(("m", tr("device.maintenance")))
    if app.may("reboot"):
        detail.append(("R", f"{tr('device.reboot')} ({tr('help.if_offered')})"))
    out.append((tr("help.detail"), detail))
    if app.role == "technician":
        out.append(
            (
                f"{tr('view.provision')} (:provision)",
                [
                    ("p", tr("provision.plan")),
                    ("a", tr("provision.apply")),
                    ("R", tr("provision.rollback")),
                    ("esc", tr("provision.back")),
                ],
            )
        )
    return out


def help_sections(app: CoreApp) -> list[tuple[str, list[tuple[str, str]]]]:
    """``?``: this view's keys first, then the keys everywhere, the commands, the other views."""
    tr = app.tr
    screen = app.screen
    main = app.screen_stack[0] if app.screen_stack else screen
    title = app.view_title(screen if screen is not main else None)
    here = screen_keys(app, screen) if screen is not main else view_keys(app, app.current)
    role = f" ({tr('role.' + app.role)})" if app.role else ""
    sections = [(f"{title}{role}", [(k.key, k.description) for k in here])]
    sections.append((tr("help.role_keys"), [(k.key, k.description) for k in role_keys(app)]))
    sections.append((tr("help.everywhere"), global_keys(app)))
    sections.append((tr("help.commands"), commands(app)))
    for v in app.views:
        if v in ("none", app.current) and screen is main:
            continue
        keys = view_keys(app, v)
        if keys:
            sections.append((f"{tr('view.' + v)} (:{v})", [(k.key, k.description) for k in keys]))
    if screen is main:
        sections.extend(other_screens(app))
    return [(head, lines) for head, lines in sections if lines]


def palette_actions(app: CoreApp, screen: Screen[Any]) -> list[tuple[str, Key, str | None]]:
    """Every action the role may take: (label, key, the view to show first or None);
    ``screen`` is the one the palette was opened over (its own keys come first)."""
    tr = app.tr
    out: list[tuple[str, Key, str | None]] = []
    main = app.screen_stack[0] if app.screen_stack else screen
    if screen is not main and not screen.is_modal:
        for k in screen_keys(app, screen):
            out.append((f"{k.description} ({app.view_title(screen)}: {k.key})", k, None))
    for k in role_keys(app):
        out.append((f"{k.description} ({k.key})", k, None))
    for v in app.views:
        for k in view_keys(app, v):
            out.append((f"{k.description} ({tr('view.' + v)}: {k.key})", k, v))
    return out
