"""A recorded JSONL feed played back on the injected clock: a living wall offline.

One JSON object per line::

    {"at": 0, "id": "r1", "author": "anna", "author_name": "Anna", "text": "…", "lang": "de"}
    {"at": 4.5, "id": "r2", "author": "ben", "html": "<p>source <b>HTML</b></p>",
     "media": [{"kind": "photo", "url": "https://…", "description": "…"}]}
    {"at": 9, "id": "r3", "edit_of": "r1", "author": "anna", "text": "… (edited)"}
    {"at": 12, "delete": "r2"}

``at`` is seconds from the start of a pass, divided by the source's speed.
Every text goes through the same normaliser as a live source's. A looping
replay gives each pass's posts their own ids (``replay:r1~2``). The cursor
is ``pass:line``: a restart carries on at the next line.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from eventops.clock import Clock
from eventops.errors import WallError
from eventops.store.base import Store
from eventops.wall.normalize import (
    Deletion,
    Media,
    NormalPost,
    handle,
    html_to_text,
    links_in_text,
    neutralise,
    plain_to_text,
    safe_media,
    unique_links,
)
from eventops.wall.sources.base import Batch, Item, PostSource


class _MediaRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = "photo"
    url: str
    preview_url: str | None = None
    description: str = ""


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: float = Field(ge=0)
    id: str | None = Field(default=None, min_length=1, max_length=100)
    delete: str | None = Field(default=None, min_length=1, max_length=100)
    edit_of: str | None = None
    author: str = ""
    author_name: str = ""
    text: str | None = None
    html: str | None = None
    lang: str | None = None
    media: list[_MediaRecord] = Field(default_factory=list)
    sensitive: bool = False
    spoiler_text: str = ""
    reply: bool = False
    boost: bool = False
    bot: bool = False


def load_replay(path: Path) -> list[_Record]:
    """Read and check a replay file; a bad line is a WallError naming file and line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise WallError(f"{path}: cannot read replay feed ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise WallError(f"{path}: replay feed is not UTF-8") from None
    out: list[_Record] = []
    last_at = 0.0
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            raw: Any = json.loads(line)
            rec = _Record.model_validate(raw)
        except json.JSONDecodeError as exc:
            raise WallError(f"{path}:{n}: not JSON ({exc.msg})") from None
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "(record)"
            raise WallError(f"{path}:{n}: {where}: {err['msg']}") from None
        if (rec.id is None) == (rec.delete is None):
            raise WallError(f"{path}:{n}: a record needs exactly one of 'id' or 'delete'")
        if rec.id is not None and (rec.text is None) == (rec.html is None):
            raise WallError(f"{path}:{n}: a post needs exactly one of 'text' or 'html'")
        if rec.id is not None and not handle(rec.author):
            raise WallError(f"{path}:{n}: author: a post needs an author")
        if rec.at < last_at:
            raise WallError(f"{path}:{n}: at: {rec.at} is earlier than the line before")
        last_at = rec.at
        out.append(rec)
    return out


class ReplaySource(PostSource):
    interval_s = 0.0

    def __init__(
        self,
        path: Path,
        store: Store,
        clock: Clock,
        *,
        speed: float = 1.0,
        loop: bool = True,
        name: str = "replay",
    ) -> None:
        super().__init__(name, store, clock)
        self.path = path
        self.speed = speed
        self.loop = loop
        self._records: list[_Record] | None = None
        self._pos: tuple[int, int] | None = None  # (pass, next line index)
        self._t0 = 0.0

    def _pid(self, native: str, pass_no: int) -> str:
        return f"{self.name}:{native}" if pass_no == 1 else f"{self.name}:{native}~{pass_no}"

    def _item(self, rec: _Record, pass_no: int) -> Item:
        if rec.delete is not None:
            return Deletion(id=self._pid(rec.delete, pass_no), source=self.name)
        assert rec.id is not None
        if rec.html is not None:
            text, links = html_to_text(rec.html)
        else:
            text = plain_to_text(rec.text or "")
            links = unique_links(links_in_text(text))
        media: list[Media] = []
        for m in rec.media:
            ref = safe_media(m.kind, m.url, m.preview_url, m.description)
            if ref is not None:
                media.append(ref)
        return NormalPost(
            id=self._pid(rec.id, pass_no),
            source=self.name,
            native_id=rec.id,
            author=f"{self.name}:{handle(rec.author)}",
            author_name=neutralise(rec.author_name),
            text=text,
            created_at=self.clock.now(),
            lang=rec.lang,
            links=links,
            media=tuple(media),
            sensitive=rec.sensitive,
            spoiler_text=neutralise(rec.spoiler_text),
            is_reply=rec.reply,
            is_boost=rec.boost,
            is_bot=rec.bot,
            replaces=(self._pid(rec.edit_of, pass_no),) if rec.edit_of else (),
        )

    async def _start(self) -> list[_Record]:
        if self._records is None:
            self._records = await asyncio.to_thread(load_replay, self.path)
            cursor = await self.load_cursor()
            pass_no, line = 1, 0
            if cursor:
                try:
                    a, b = cursor.split(":")
                    pass_no, line = int(a), int(b)
                except ValueError:
                    raise WallError(
                        f"replay {self.name}: stored cursor {cursor!r} is not pass:line"
                    ) from None
            self._pos = (pass_no, line)
            at = self._records[line].at if line < len(self._records) else 0.0
            self._t0 = self.clock.monotonic() - at / self.speed
        return self._records

    async def poll(self, *, wait: bool = True) -> Batch:
        records = await self._start()
        assert self._pos is not None
        pass_no, line = self._pos
        if line >= len(records):
            if not self.loop or not records:
                return Batch(done=True)
            pass_no, line = pass_no + 1, 0
            self._t0 = self.clock.monotonic()
        if not wait:
            items = [self._item(r, pass_no) for r in records[line:]]
            self._pos = (pass_no, len(records))
            return Batch(items, f"{pass_no}:{len(records)}", done=not self.loop)
        due = self._t0 + records[line].at / self.speed
        delay = due - self.clock.monotonic()
        if delay > 0:
            await self.clock.sleep(delay)
        at = records[line].at
        end = line
        while end < len(records) and records[end].at == at:
            end += 1
        items = [self._item(r, pass_no) for r in records[line:end]]
        self._pos = (pass_no, end)
        return Batch(items, f"{pass_no}:{end}")
