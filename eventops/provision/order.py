"""The order in which devices are changed, so the management path stays alive.

- On a fibre link, the far end goes before the controller end (the end that
  faces the control room): changing the near end first could cut us off
  from the far one.
- A mast behind a link (``Mast.uplink``) goes after both of that link's
  switches, so the VLANs it will use exist on the way before it moves.

:func:`dependencies` returns, per device, the devices that must finish
first; :func:`waves` groups them into layers for display. A cycle (a ring
of links) cannot be ordered by these rules: its devices are released
together, and the cycle is named in :attr:`Order.notes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eventops.profile.models import Profile


@dataclass
class Order:
    after: dict[str, set[str]]
    """device → the devices that must finish before it starts."""
    waves: list[list[str]]
    notes: list[str] = field(default_factory=list)


def dependencies(profile: Profile, selected: list[str]) -> Order:
    chosen = set(selected)
    after: dict[str, set[str]] = {d: set() for d in selected}
    for link in profile.links:
        ctrl = link.a if link.controller_end == "a" else link.b
        far = link.b if link.controller_end == "a" else link.a
        if ctrl.device in chosen and far.device in chosen and ctrl.device != far.device:
            after[ctrl.device].add(far.device)
    for mast in profile.masts:
        if mast.id not in chosen or mast.uplink is None:
            continue
        try:
            link = profile.link(mast.uplink)
        except KeyError:
            continue
        for end in (link.a.device, link.b.device):
            if end in chosen:
                after[mast.id].add(end)
    # Kahn's layers; whatever is left sits on a cycle.
    remaining = {d: set(p) for d, p in after.items()}
    waves: list[list[str]] = []
    notes: list[str] = []
    while remaining:
        ready = [d for d in selected if d in remaining and not remaining[d]]
        if not ready:
            stuck = [d for d in selected if d in remaining]
            notes.append(
                "links form a ring through " + ", ".join(stuck) + ": applied without an order"
            )
            for d in stuck:
                after[d] -= set(stuck)
            waves.append(stuck)
            break
        waves.append(ready)
        for d in ready:
            del remaining[d]
        for p in remaining.values():
            p.difference_update(ready)
    return Order(after, waves, notes)
