"""The model registry: immutable versions and the aliases that point at them.

A version is a folder published whole (``partitions.publish_files``): its manifest, written
last, holds the sha256 of every file, and every read is verified against it. It is committed by
the index entry of its candidate (its identity: the day, the codebook version and the sha256 of
its weights), created once with a conditional create after the folder is complete: a version is
visible only then, and registering the same candidate again returns the version it already
became. Version numbers are claimed with conditional creates too, so concurrent registrations
never share one.

The aliases (``champion``, ``challenger``) and their audit log are one document, moved by
conditional writes on its tag (S3: If-Match on the ETag): a move and its log line land together
or not at all, and a writer that lost a race reads again and retries, so no move and no line is
ever lost or overwritten. The same semantics hold on a local folder and on S3.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from components.core import partitions
from components.core.config import RegistryConfig
from components.core.errors import BadInput, TransientError
from components.core.layout import (
    REGISTRY_ALIASES,
    REGISTRY_CANDIDATES,
    REGISTRY_CLAIMS,
    REGISTRY_VERSIONS,
)
from components.core.storage import Storage, open_storage

ALIASES = ("champion", "challenger")
Log = list[dict[str, Any]]  # the audit log: one line per alias move
# What an alias move computes from the current aliases and log: the aliases it changes.
Change = Callable[[dict[str, int | None], Log], dict[str, int | None]]


class RegistryError(BadInput):
    """A registry request that cannot be carried out as asked; says why."""


class AliasDocumentError(RegistryError):
    """The aliases document is damaged: nothing is moved and nothing is read from it."""


RESTORE = (
    "; no alias was read or moved: restore the document from a backup (S3 object versioning "
    "keeps its earlier versions)"
)


class AliasConflict(RegistryError, TransientError):
    """Other writers kept moving the aliases: the move was not made, and may be tried again."""


@dataclass(frozen=True)
class Version:
    number: int
    manifest: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        """The manifest without its per-file checksums: what a listing shows."""
        return {"version": self.number, **{k: v for k, v in self.manifest.items() if k != "sha256"}}


def candidate_identity(ds: date, sid_version: int, weights_sha256: str) -> str:
    """What a version is keyed by: the day its candidate was trained for, the codebook version
    whose SIDs it speaks, and its weights."""
    return f"dt={ds.isoformat()}/sid_version={sid_version}/{weights_sha256}"


def version_prefix(number: int) -> str:
    return f"{REGISTRY_VERSIONS}/v={number}"


class ModelRegistry:
    def __init__(self, storage: Storage, alias_attempts: int = 20) -> None:
        self.storage, self.alias_attempts = storage, alias_attempts

    @classmethod
    def open(cls, config: RegistryConfig) -> ModelRegistry:
        """The registry at ``config.root``; its root is made by the first registration."""
        return cls(open_storage(config), config.alias_attempts)

    @classmethod
    def existing(cls, config: RegistryConfig) -> ModelRegistry:
        """The registry at ``config.root``, which must exist: reading a mistyped root would
        find an empty registry and say nothing."""
        registry = cls.open(config)
        if not registry.storage.root_exists():
            raise RegistryError(
                f"there is no registry at {registry.storage.uri('')}: check registry.root "
                "(--registry), or create it with `adagrpo registry init`"
            )
        return registry

    # -- versions ----------------------------------------------------------------------------

    def register(
        self, identity: str, files: dict[str, bytes | dict[str, Any]], metadata: dict[str, Any]
    ) -> tuple[Version, bool]:
        """The version ``identity`` (``candidate_identity``) became, and whether
        this call created it."""
        if (known := self.find(identity)) is not None:
            return known, False
        number = self._claim_number()
        registered = {
            **metadata,
            "identity": identity,
            "registered_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        partitions.publish_files(self.storage, version_prefix(number), files, registered)
        # The index entry, created once, commits the version: a registration that died before
        # it left a folder that no listing shows.
        index = self._index(identity)
        if self.storage.write_if(index, Storage.json_bytes({"version": number}), None):
            return self.version(number), True
        self.storage.delete_prefix(version_prefix(number))  # a racing twin committed first
        return self.version(self.storage.read_json(index)["version"]), False

    def find(self, identity: str) -> Version | None:
        """The version ``identity`` became; None when it was never registered."""
        index = self._index(identity)
        if not self.storage.exists(index):
            return None
        return self.version(self.storage.read_json(index)["version"])

    @staticmethod
    def _index(identity: str) -> str:
        return f"{REGISTRY_CANDIDATES}/{identity}.json"

    def _claim_number(self) -> int:
        """A version number no other registration holds: the next one free, created once."""
        taken = [int(key.rsplit("/", 1)[-1]) for key in self.storage.list_keys(REGISTRY_CLAIMS)]
        number = max(taken, default=0) + 1
        while not self.storage.write_if(f"{REGISTRY_CLAIMS}/{number}", b"", None):
            number += 1
        return number

    def versions(self) -> list[Version]:
        """Every complete version, oldest first (a version still being published is absent)."""
        numbers = sorted(
            int(name.removeprefix("v="))
            for name in self.storage.list_folders(REGISTRY_VERSIONS)
            if name.startswith("v=")
        )
        found = (self._committed(n) for n in numbers)
        return [version for version in found if version is not None]

    def version(self, number: int) -> Version:
        """A complete version; an error naming it otherwise."""
        version = self._committed(number)
        if version is None:
            raise RegistryError(
                f"version {number} is not in the registry {self.storage.uri('')} (never "
                "registered, or its registration has not completed); `adagrpo registry list` "
                "shows the versions"
            )
        return version

    def _committed(self, number: int) -> Version | None:
        """The version if it is published and its candidate's index entry names it."""
        prefix = version_prefix(number)
        if not partitions.is_published(self.storage, prefix):
            return None
        manifest = partitions.read_manifest(self.storage, prefix)
        index = self._index(manifest["identity"])
        committed = self.storage.exists(index) and self.storage.read_json(index)["version"]
        return Version(number, manifest) if committed == number else None

    def verified(self, number: int) -> Version:
        """The version after checking every file against its manifest (ArtifactIntegrityError
        names the first file that differs)."""
        version = self.version(number)
        partitions.verify_files(self.storage, version_prefix(number))
        return version

    def read_file(self, number: int, name: str) -> bytes:
        """One file of a version, checked against the version's manifest."""
        manifest = self.version(number).manifest
        return partitions.read_verified(self.storage, version_prefix(number), name, manifest)

    def diff(self, first: int, second: int) -> dict[str, Any]:
        """What differs between two versions: metadata fields, and files by content."""
        a, b = self.version(first).manifest, self.version(second).manifest
        ignored = {"sha256", "files", "published_at", "registered_at", "identity"}
        fields = sorted((set(a) | set(b)) - ignored)
        files = sorted(set(a["sha256"]) | set(b["sha256"]))
        return {
            "versions": [first, second],
            "fields": {k: [a.get(k), b.get(k)] for k in fields if a.get(k) != b.get(k)},
            "files": {
                name: "same" if a["sha256"].get(name) == b["sha256"].get(name) else "changed"
                for name in files
            },
        }

    # -- aliases -----------------------------------------------------------------------------

    def aliases(self) -> dict[str, int | None]:
        return dict(self._read_aliases()[0]["aliases"])

    def audit(self) -> list[dict[str, Any]]:
        """Every alias move ever made, oldest first."""
        return list(self._read_aliases()[0]["log"])

    def set_alias(self, alias: str, number: int | None, actor: str, reason: str) -> dict[str, Any]:
        """Point ``alias`` at a complete, verified version (None clears it); the log line."""
        if alias not in ALIASES:
            raise RegistryError(f"unknown alias {alias!r}; the aliases are {', '.join(ALIASES)}")
        if number is not None:
            self.verified(number)  # never point an alias at a tampered or missing version
        return self._move(lambda aliases, _: {alias: number}, "set", actor, reason)

    def promote(self, actor: str, reason: str) -> dict[str, Any]:
        """The challenger becomes the champion; the challenger alias is cleared."""

        def change(aliases: dict[str, int | None], _: Log) -> dict[str, int | None]:
            if aliases["challenger"] is None:
                raise RegistryError("there is no challenger to promote")
            self.verified(aliases["challenger"])
            return {"champion": aliases["challenger"], "challenger": None}

        return self._move(change, "promote", actor, reason)

    def rollback(self, actor: str, reason: str) -> dict[str, Any]:
        """The champion before the current one becomes the champion again."""

        def change(_: dict[str, int | None], log: Log) -> dict[str, int | None]:
            history = champion_history(log)
            if len(history) < 2:
                raise RegistryError("there is no earlier champion to roll back to")
            return {"champion": history[-2]}

        return self._move(change, "rollback", actor, reason)

    def _read_aliases(self) -> tuple[dict[str, Any], str | None]:
        found = self.storage.read_tagged(REGISTRY_ALIASES)
        if found is None:
            return {"revision": 0, "aliases": dict.fromkeys(ALIASES), "log": []}, None
        return self._parsed_aliases(found[0]), found[1]

    def _parsed_aliases(self, content: bytes) -> dict[str, Any]:
        """The alias document, checked: a damaged one is named, never half-read."""
        where = self.storage.uri(REGISTRY_ALIASES)
        try:
            document = json.loads(content)
        except (ValueError, UnicodeDecodeError) as exc:
            raise AliasDocumentError(f"{where} is not JSON ({exc}){RESTORE}") from None
        aliases = document.get("aliases") if isinstance(document, dict) else None
        if (
            not isinstance(aliases, dict)
            or set(aliases) != set(ALIASES)
            or not all(v is None or (isinstance(v, int) and v > 0) for v in aliases.values())
            or not isinstance(document.get("revision"), int)
            or not isinstance(document.get("log"), list)
        ):
            raise AliasDocumentError(
                f"{where} is not an alias document (a revision, the aliases "
                f"{', '.join(ALIASES)} each a version or null, and a log){RESTORE}"
            )
        return document

    def _move(self, change: Change, action: str, actor: str, reason: str) -> dict[str, Any]:
        """Apply ``change(aliases, log) -> {alias: version}`` with one conditional write, read
        again and retried while other writers win; the log line written with it."""
        for attempt in range(self.alias_attempts):
            document, tag = self._read_aliases()
            moved = change(document["aliases"], document["log"])
            revision = document["revision"] + 1
            line = {
                "revision": revision,
                "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "action": action,
                "moves": {a: [document["aliases"][a], v] for a, v in sorted(moved.items())},
                "actor": actor,
                "reason": reason,
            }
            updated = {
                "revision": revision,
                "aliases": {**document["aliases"], **moved},
                "log": [*document["log"], line],
            }
            if self.storage.write_if(REGISTRY_ALIASES, Storage.json_bytes(updated), tag):
                return line
            time.sleep(random.uniform(0, 0.05 * 2 ** min(attempt, 5)))  # let the winner finish
        raise AliasConflict(
            f"the aliases of {self.storage.uri('')} were moved by other writers "
            f"{self.alias_attempts} times in a row; nothing was changed, try again "
            "(registry.alias_attempts sets the patience)"
        )


def champion_history(log: list[dict[str, Any]]) -> list[int]:
    """The champions in force over time, a rollback undoing the move before it."""
    history: list[int] = []
    for line in log:
        if "champion" not in line["moves"]:
            continue
        if line["action"] == "rollback":
            history.pop()
        elif line["moves"]["champion"][1] is not None:
            history.append(line["moves"]["champion"][1])
    return history
