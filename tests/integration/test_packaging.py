"""The package a user installs (a wheel, an image) carries what the stages read besides code."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
UNTRACKED = (".git", ".venv", "var", "build", "*.egg-info", "__pycache__", ".*_cache")


def build_wheel(out: Path) -> Path:
    """A wheel built from a copy of the source tree (the build writes beside its sources)."""
    source = out / "source"
    shutil.copytree(REPO, source, symlinks=True, ignore=shutil.ignore_patterns(*UNTRACKED))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(out), str(source)],
        check=True,
    )  # fmt: skip
    (wheel,) = out.glob("adagrpo_pipeline-*.whl")
    return wheel


def test_a_wheel_ships_every_sql_file_and_its_stages_read_them(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "dist")
    shipped = {name for name in zipfile.ZipFile(wheel).namelist() if name.endswith(".sql")}
    assert shipped == {f"components/sql/{path.name}" for path in (REPO / "sql").glob("*.sql")}

    installed = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(installed)
    probe = (
        "import components, pathlib;"
        "from components.core.sql import load_sql;"
        "print(pathlib.Path(components.__file__).parent);"
        "print(load_sql('build_sequences'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={"PYTHONPATH": str(installed)},
        capture_output=True,
        text=True,
        check=True,
    )
    package, text = result.stdout.split("\n", 1)
    assert Path(package) == installed / "components"  # the wheel's copy, not the checkout
    assert text.rstrip("\n") == (REPO / "sql" / "build_sequences.sql").read_text().rstrip("\n")
