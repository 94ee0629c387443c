"""Child process for the operators' kill and race tests: a technician at work.

``python -m tests.helpers.ops_child STORE LOCKS SEED COUNT USER`` (STORE: an SQLite path or a
``postgresql://`` URL, see :func:`tests.helpers.store_child.open_target`) raises alerts and
acknowledges them, adds and removes silences, and runs (empty) applies, through
the code the engine uses (:class:`~eventops.monitor.alerts.AlertManager`,
:class:`~eventops.provision.apply.Provisioner`), and prints one line per audited
mutation only after it returned (i.e. committed): ``ack <alert id>``,
``silence <id>``, ``unsilence <id>``, ``apply <id>``; ``C`` for one the store's
state refused (acknowledged or removed meanwhile). COUNT 0: until killed.
"""

from __future__ import annotations

import asyncio
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from eventops.errors import Conflict, NotFound
from eventops.monitor.alerts import AlertManager, Condition
from eventops.profile.models import AlertTolerances, Profile
from eventops.provision.apply import Provisioner
from eventops.store.base import Store
from tests.helpers.store_child import open_target

EPOCH = datetime(2026, 6, 18, 18, tzinfo=UTC)
PROFILE = {
    "event": {
        "id": "ops-kill",
        "name": "Ops kill test",
        "start": "2026-06-18T16:00:00+02:00",
        "end": "2026-06-19T02:00:00+02:00",
        "timezone": "Europe/Berlin",
    },
}


async def one(
    am: AlertManager, prov: Provisioner, store: Store, rng: random.Random, user: str, n: int
) -> str:
    """One random audited mutation; what committed, or ``C`` when it was refused."""
    now = EPOCH + timedelta(seconds=n)
    action = rng.choice(("ack", "ack", "silence", "unsilence", "apply"))
    try:
        if action == "ack":
            subject = f"sw-{rng.randrange(1000000)}"
            cond = Condition(f"link:{subject}:down", "critical", subject, "down")
            await am.evaluate(subject, [cond], now)  # raises it (raise_after_s 0)
            alerts = [a for a in await store.list_alerts(open_only=True) if a.acked_by is None]
            if not alerts:
                return "C"
            target = rng.choice(alerts[-3:])
            assert target.id is not None
            await am.ack(target.id, user, "on it")
            return f"ack {target.id}"
        if action == "silence":
            s = await am.add_silence(
                {"subject": f"sw-{n}"}, now + timedelta(hours=1), user, "splicing", now
            )
            return f"silence {s.id}"
        if action == "unsilence":
            live = await store.list_silences()
            if not live:
                return "C"
            sid = rng.choice(live).id
            assert sid is not None
            await am.remove_silence(sid, user, now)
            return f"unsilence {sid}"
        report = await prov.apply([], actor=user)
        return f"apply {report.apply_id}"
    except (Conflict, NotFound):
        return "C"


async def main(path: str, locks: str, seed: int, count: int, user: str) -> None:
    rng = random.Random(seed)
    profile = Profile.model_validate(PROFILE)
    async with open_target(path) as store:
        am = AlertManager(store, AlertTolerances())
        prov = Provisioner(profile, store, lock_dir=Path(locks))
        done = 0
        while count == 0 or done < count:
            print(await one(am, prov, store, rng, user, done), flush=True)
            done += 1


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]))
