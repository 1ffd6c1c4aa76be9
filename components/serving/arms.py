"""The models behind each arm, following the registry's aliases.

Each arm follows an alias (``champion`` for control, ``challenger`` for treatment). Every
``refresh_s`` a background thread reads the aliases document again (requests never wait for
the registry); when an alias moved, the new version is
loaded, verified file by file, and swapped in at once; an alias that is cleared ends its arm
(its users go to control). A version that cannot be loaded (a file that fails its checksum or
is missing) is never served, and a damaged aliases document moves nothing: the arms keep what
they serve and report the error in ``/readyz``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from components.core.errors import StorageUnavailable
from components.policy.servable import ServableModel
from components.policy.trie import SidTrie
from components.registry.artifacts import load_servable
from components.registry.store import ModelRegistry, RegistryError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loaded:
    version: int
    model: ServableModel
    recommendable: SidTrie


class Arms:
    def __init__(self, registry: ModelRegistry, aliases: dict[str, str], refresh_s: float):
        """``aliases``: arm name -> the alias it follows."""
        self.registry, self.aliases, self.refresh_s = registry, aliases, refresh_s
        self.loaded: dict[str, Loaded | None] = dict.fromkeys(aliases)
        self.errors: dict[str, str | None] = dict.fromkeys(aliases)
        self.aliases_error: str | None = None  # the aliases document could not be read
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._refresher: threading.Thread | None = None
        self.refresh()

    def current(self, arm: str) -> Loaded | None:
        """The arm's model as the last look at the registry found it."""
        return self.loaded[arm]

    def start(self) -> None:
        """Look for alias moves every ``refresh_s`` in a background thread, until ``stop``."""
        self._stopped.clear()
        self._refresher = threading.Thread(target=self._follow, name="aliases", daemon=True)
        self._refresher.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._refresher is not None:
            self._refresher.join(timeout=30)

    def _follow(self) -> None:
        while not self._stopped.wait(self.refresh_s):
            try:
                self.refresh()
            except Exception:  # a bug must not end the refreshes: log it and go on
                log.exception("looking for alias moves failed")

    def refresh(self) -> None:
        with self._lock:
            try:
                pointed = self.registry.aliases()
            except (RegistryError, OSError, StorageUnavailable) as unreadable:
                self.aliases_error = f"aliases unreadable, serving what was loaded: {unreadable}"
                log.error("%s", self.aliases_error)
                return
            self.aliases_error = None
            for arm, alias in self.aliases.items():
                number, loaded = pointed[alias], self.loaded[arm]
                if number is None:  # the experiment is over for this arm
                    self.loaded[arm], self.errors[arm] = None, f"{alias} is not set"
                    continue
                if loaded is not None and loaded.version == number:
                    continue
                try:
                    model = load_servable(self.registry, number)
                except (ValueError, OSError, StorageUnavailable) as refused:  # checksums too
                    self.errors[arm] = f"version {number} refused: {refused}"
                    log.error("%s: keeping %s, %s", arm, loaded and loaded.version, refused)
                    continue
                self.loaded[arm] = Loaded(number, model, model.tries()[1])
                self.errors[arm] = None
                log.info("%s now serves version %d (%s)", arm, number, alias)

    def health(self) -> dict[str, Any]:
        versions = {arm: loaded and loaded.version for arm, loaded in self.loaded.items()}
        return {
            arm: {"alias": alias, "version": versions[arm], "error": self.errors[arm]}
            for arm, alias in self.aliases.items()
        }
