"""Access to the SQL files in the repository's ``sql/`` folder (or ``$ADAGRPO_SQL_DIR``).

SQL lives in files so that analysts can read and review it; parameters are bound by the engine
(``:name`` markers), never formatted into the text.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def load_sql(name: str) -> str:
    directory = Path(os.environ.get("ADAGRPO_SQL_DIR", DEFAULT_SQL_DIR))
    path = directory / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"SQL file {path} not found (set ADAGRPO_SQL_DIR?)")
    return path.read_text()
