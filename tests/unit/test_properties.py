"""Property-based tests of two inputs strangers write: the service's request schema and the
replay parser. Whatever is generated gets an answer or a 4xx with a message from the service,
and a source or an error naming the file and the line from the parser; never anything else."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.core.config import RegistryConfig, ServingConfig
from components.registry.store import ModelRegistry
from components.serving.service import build_app
from components.simulate.replay_input import ReplayInputError, load_source
from tests.integration.test_serve import register_model

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
# Mostly near-valid requests: the right keys with integers, often around the int64 edges, and
# now and then a value of any kind or a key missing.
EDGES = st.sampled_from([-1, 0, 1, 2**63 - 1, 2**63, 2**64])
IDS = st.integers(min_value=0, max_value=40) | EDGES | st.integers(-(2**65), 2**65)
VALUES = IDS | IDS | JSON
REQUEST = st.fixed_dictionaries(
    {"user_id": VALUES, "history": st.lists(VALUES, max_size=5) | JSON},
    optional={"k": st.integers(0, 30) | VALUES},
)
BODY = REQUEST | st.fixed_dictionaries({"requests": st.lists(REQUEST, max_size=4) | JSON}) | JSON


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = str(tmp_path_factory.mktemp("registry"))
    registry = ModelRegistry.open(RegistryConfig(root=root))
    registry.set_alias("champion", register_model(registry, seed=1), "test", "first")
    app = build_app(RegistryConfig(root=root), ServingConfig(beam_width=8, max_k=20), None)
    with TestClient(app) as served:
        yield served


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(body=BODY)
def test_any_body_gets_an_answer_or_a_4xx_with_a_message(client: TestClient, body: object) -> None:
    response = client.post(
        "/recommend",
        content=json.dumps(body, allow_nan=True),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        assert response.json()["detail"]


# Mostly well-formed lines of ids (some beyond int64), and now and then a stray token.
NUMBERS = st.integers(min_value=0, max_value=50) | st.sampled_from([2**63 - 1, 2**63, 2**66])
STRAY = st.text(alphabet="0123456789-+. x\u00b2\u0663", min_size=1, max_size=6)
TOKENS = NUMBERS.map(str) | NUMBERS.map(str) | NUMBERS.map(str) | STRAY
LINES = st.lists(st.lists(TOKENS, min_size=1, max_size=5).map(" ".join), max_size=6)
TITLES = st.lists(
    st.tuples(TOKENS, st.text(max_size=4)).map(lambda row: f"{row[0]}\tB0\t{row[1]}"), max_size=6
)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(sequences=LINES, items=TITLES)
def test_any_replay_input_is_read_or_refused_naming_the_file_and_line(
    tmp_path: Path, sequences: list[str], items: list[str]
) -> None:
    sequences_file, items_file = tmp_path / "Beauty.txt", tmp_path / "item_titles.tsv"
    sequences_file.write_text("\n".join(sequences) + "\n")
    items_file.write_text("item_id\tasin\ttitle\n" + "\n".join(items))
    try:
        source = load_source(sequences_file, items_file)
    except ReplayInputError as refused:
        assert str(refused).startswith((f"{sequences_file}:", f"{items_file}:")), refused
        return
    assert (source.sequences.item_ids >= 0).all() and (source.sequences.item_ids < 2**63).all()
