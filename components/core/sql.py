"""The Spark SQL the stages run, read from the package.

SQL lives in files (the repository's ``sql/``) so that analysts can read and review it; the
package ships them as ``components/sql/`` (a link to ``sql/`` in a checkout, copies in a wheel or
an image), so a checkout, an installed wheel and an image find them the same way. Parameters are
bound by the engine (``:name`` markers), never formatted into the text.
"""

from __future__ import annotations

from importlib.resources import files


def load_sql(name: str) -> str:
    """The text of ``sql/<name>.sql``."""
    resource = files("components").joinpath("sql", f"{name}.sql")
    if not resource.is_file():
        raise FileNotFoundError(
            f"SQL file {name}.sql is not in the installed package: reinstall it "
            "(pip install .), which ships sql/ as components/sql/"
        )
    return resource.read_text(encoding="utf-8")
