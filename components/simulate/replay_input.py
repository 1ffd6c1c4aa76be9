"""Read real interaction sequences and item metadata in the two shapes papers publish.

- text: ``Beauty.txt`` (``user_id item_id item_id ...`` per line, chronological) with
  ``item_titles.tsv`` (``item_id<TAB>asin<TAB>title``, a header line);
- LC-Rec JSON: ``X.inter.json`` (``{"user": [item, ...]}``) with ``X.item.json``
  (``{"item": {"title", "description", "brand", "categories"}}``).

Each file's shape is detected from its content (JSON starts with ``{`` or ``[``), so the two
may be mixed. Malformed or unreadable input raises :class:`ReplayInputError` naming the file
(and the line, where there is one).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from components.core.errors import BadInput
from components.core.ids import MAX_INT64


class ReplayInputError(BadInput):
    """Malformed or unreadable replay input; the message starts with ``file:line:`` or ``file:``."""


@dataclass(frozen=True)
class Sequences:
    user_ids: np.ndarray
    lengths: np.ndarray  # interactions per user
    item_ids: np.ndarray  # all interactions, user after user, each user's in their real order

    def __len__(self) -> int:
        return len(self.item_ids)


@dataclass(frozen=True)
class ItemInfo:
    item_ids: np.ndarray
    titles: list[str]
    categories: list[str]  # empty where the source has none
    brands: list[str]


@dataclass(frozen=True)
class ReplaySource:
    sequences_file: Path
    items_file: Path
    format: str  # e.g. "text+tsv" or "json+json"
    sequences: Sequences
    items: ItemInfo


def load_source(sequences_file: Path, items_file: Path) -> ReplaySource:
    sequences_text, items_text = _read(sequences_file), _read(items_file)
    sequences_json, items_json = _is_json(sequences_text), _is_json(items_text)
    return ReplaySource(
        sequences_file=sequences_file,
        items_file=items_file,
        format=f"{'json' if sequences_json else 'text'}+{'json' if items_json else 'tsv'}",
        sequences=(_json_sequences if sequences_json else _text_sequences)(
            sequences_file, sequences_text
        ),
        items=(_json_items if items_json else _tsv_items)(items_file, items_text),
    )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ReplayInputError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:  # missing, a directory, unreadable: the user named the wrong path
        raise ReplayInputError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc


def _is_json(text: str) -> bool:
    return text.lstrip().startswith(("{", "["))


def _text_sequences(path: Path, text: str) -> Sequences:
    users: list[int] = []
    sequences: list[list[int]] = []
    line_of_user: dict[int, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if not all(token.isascii() and token.isdigit() for token in line.split()):
            raise ReplayInputError(
                f"{path}:{number}: expected non-negative integer ids 'user_id item_id ...', "
                f"got {line[:80]!r}"
            )
        user, *items = (_int_id(token, f"{path}:{number}") for token in line.split())
        if not items:
            raise ReplayInputError(f"{path}:{number}: user {user} has no items")
        if user in line_of_user:
            raise ReplayInputError(
                f"{path}:{number}: user {user} already listed on line {line_of_user[user]}"
            )
        line_of_user[user] = number
        users.append(user)
        sequences.append(items)
    return _sequences(path, users, sequences)


def _json_sequences(path: Path, text: str) -> Sequences:
    users: list[int] = []
    sequences: list[list[int]] = []
    for key, items in _json_object(path, text).items():
        where = f"{path}:{_line_of_key(text, key)}: user {key!r}"
        if not isinstance(items, list) or not items:
            raise ReplayInputError(f"{where}: expected a non-empty list of item ids")
        users.append(_int_id(key, where))
        sequences.append([_int_id(item, where) for item in items])
    return _sequences(path, users, sequences)


def _sequences(path: Path, users: list[int], sequences: list[list[int]]) -> Sequences:
    if not users:
        raise ReplayInputError(f"{path}:1: no user sequences")
    return Sequences(
        user_ids=np.array(users, dtype=np.int64),
        lengths=np.array([len(items) for items in sequences], dtype=np.int64),
        item_ids=np.fromiter((i for items in sequences for i in items), dtype=np.int64),
    )


def _tsv_items(path: Path, text: str) -> ItemInfo:
    ids: list[int] = []
    titles: list[str] = []
    line_of_item: dict[int, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split("\t", 2)
        if not line.strip() or (number == 1 and not fields[0].strip().isdigit()):
            continue  # blank, or the header
        if len(fields) < 3:
            raise ReplayInputError(f"{path}:{number}: expected item_id<TAB>asin<TAB>title")
        item = _int_id(fields[0].strip(), f"{path}:{number}")
        if item in line_of_item:
            raise ReplayInputError(
                f"{path}:{number}: item {item} already listed on line {line_of_item[item]}"
            )
        line_of_item[item] = number
        ids.append(item)
        titles.append(fields[2].strip())
    _require_items(path, ids)
    return ItemInfo(np.array(ids, dtype=np.int64), titles, [""] * len(ids), [""] * len(ids))


def _json_items(path: Path, text: str) -> ItemInfo:
    ids: list[int] = []
    titles: list[str] = []
    categories: list[str] = []
    brands: list[str] = []
    for key, meta in _json_object(path, text).items():
        where = f"{path}:{_line_of_key(text, key)}: item {key!r}"
        if not isinstance(meta, dict):
            raise ReplayInputError(f"{where}: expected an object with title, brand, categories")
        ids.append(_int_id(key, where))
        titles.append(_text(meta.get("title"), where))
        brands.append(_text(meta.get("brand"), where))
        categories.append(_main_category(meta.get("categories"), where))
    _require_items(path, ids)
    return ItemInfo(np.array(ids, dtype=np.int64), titles, categories, brands)


def _require_items(path: Path, ids: list[int]) -> None:
    # Without item text every SID would be made from an empty title: refuse rather than warn.
    if not ids:
        raise ReplayInputError(f"{path}:1: no items (the file is empty or holds only a header)")


def _json_object(path: Path, text: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReplayInputError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    if not isinstance(document, dict):
        raise ReplayInputError(f"{path}:1: expected a JSON object keyed by id")
    return document


def _line_of_key(text: str, key: str) -> int:
    """The line where ``key`` first appears as a JSON string (JSON parsers forget lines)."""
    return text.count("\n", 0, max(text.find(json.dumps(key)), 0)) + 1


def _int_id(value: Any, where: str) -> int:
    """A non-negative integer id (negative ids would collide with "no item" markers)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ReplayInputError(f"{where}: id {value!r} is not an integer")
    try:
        number = int(value)
    except ValueError:
        raise ReplayInputError(f"{where}: id {value!r} is not an integer") from None
    if number < 0:
        raise ReplayInputError(f"{where}: id {value!r} is negative; ids must be 0 or more")
    if number > MAX_INT64:
        raise ReplayInputError(f"{where}: id {value!r} is above {MAX_INT64} (int64)")
    return number


def _text(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ReplayInputError(f"{where}: expected text, got {value!r}")
    return value.strip()


def _main_category(value: Any, where: str) -> str:
    """The first level below the root of a category path ("Root,Main,Sub,...")."""
    if isinstance(value, list):
        value = ",".join(_text(level, where) for level in value)
    levels = [level.strip() for level in _text(value, where).split(",") if level.strip()]
    return levels[min(1, len(levels) - 1)] if levels else ""
