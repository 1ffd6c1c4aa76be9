"""``adagrpo serve`` over HTTP on loopback, its registry on a real S3 endpoint (moto's server):
recommendations from the champion, an A/B split by a salted hash, alias moves picked up without
a restart, a tampered version never served, and simulated users shown its slates."""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from safetensors.torch import save as save_tensors

from components import cli
from components.core.config import ServingConfig, load_config
from components.core.layout import REGISTRY_ALIASES
from components.core.storage import LocalStorage, Storage
from components.policy.model import Policy, PolicyConfig
from components.registry.artifacts import CATALOG, POLICY, WEIGHTS
from components.registry.experiments import start_experiment
from components.registry.store import ModelRegistry, version_prefix
from components.serving.service import build_app, in_thread
from components.simulate.served import UserHistories
from components.trainer.checkpoints import policy_config_json

SHAPE = PolicyConfig(vocab_sizes=(4, 4, 2), max_history_items=5, d_model=16, n_head=2,
                     n_layer=1, prefix_buckets=0)  # fmt: skip
ITEMS = {item: [item // 8, (item // 2) % 4, item % 2] for item in range(32)}  # 32 distinct SIDs
UNLISTED = 31
SETTINGS = ServingConfig(refresh_s=0.1, beam_width=8)


@pytest.fixture
def registry(s3_registry: str) -> ModelRegistry:
    return ModelRegistry.open(load_config().registry)


def register_model(
    registry: ModelRegistry,
    seed: int,
    items: dict[int, list[int]] = ITEMS,
    shape: PolicyConfig = SHAPE,
) -> int:
    """A randomly initialised policy over ``items`` (id: SID), as `adagrpo register` stores one."""
    torch.manual_seed(seed)
    policy = Policy(shape)
    catalog = pa.table(
        {
            "item_id": pa.array(list(items), pa.int64()),
            "sid": pa.array(list(items.values()), pa.list_(pa.int32())),
            "listed": [item != UNLISTED for item in items],
        }
    )
    buffer = io.BytesIO()
    pq.write_table(catalog, buffer)
    files: dict[str, bytes | dict[str, object]] = {
        WEIGHTS: save_tensors({k: v.contiguous() for k, v in policy.state_dict().items()}),
        POLICY: policy_config_json(shape),
        CATALOG: buffer.getvalue(),
    }
    version, _ = registry.register(f"dt=2026-11-14/seed-{seed}", files, {"sid_version": 1})
    return version.number


@contextlib.contextmanager
def serving(experiment_id: str | None = None) -> Iterator[httpx.Client]:
    """The service on a free loopback port, for the registry of the environment."""
    app = build_app(load_config().registry, SETTINGS, experiment_id)
    with in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client


def eventually(check: Callable[[], bool], seconds: float = 120.0) -> None:
    """Wait for ``check``; the bound is on a hang, not a speed target (a busy 2-core machine)."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the service did not pick up the change"
        time.sleep(0.05)


def test_recommends_listed_items_from_the_champion(registry: ModelRegistry) -> None:
    champion = register_model(registry, seed=1)
    registry.set_alias("champion", champion, "test", "first")

    with serving() as client:
        assert client.get("/readyz").json()["status"] == "ok"
        assert client.get("/healthz").json() == {"status": "alive"}
        one = client.post("/recommend", json={"user_id": 7, "history": [3, 5, 99], "k": 5}).json()
        batch = client.post(
            "/recommend",
            json={"requests": [{"user_id": 1, "history": [3, 5, 99], "k": 5},
                               {"user_id": 2, "history": [99], "k": 3}]},
        ).json()["responses"]  # fmt: skip

    assert one["arm"] == "control" and one["version"] == champion and one["experiment_id"] is None
    assert len(one["items"]) == 5 == len(set(one["items"]))
    assert set(one["items"]) <= set(ITEMS) - {UNLISTED}
    assert batch[0]["items"] == one["items"]  # the same history, the same list
    assert batch[1]["items"] == []  # item 99 has no SID: nothing to go on


def test_an_experiment_splits_users_stably_and_by_the_configured_share(
    registry: ModelRegistry,
) -> None:
    control, treatment = register_model(registry, 1), register_model(registry, 2)
    registry.set_alias("champion", control, "test", "first")
    registry.set_alias("challenger", treatment, "test", "blessed")
    settings = load_config().ab_test
    spec = start_experiment(registry, control, treatment, date(2026, 11, 14), settings)
    users = [{"user_id": user, "history": [user % 30], "k": 2} for user in range(2_000)]

    with serving(spec["id"]) as client:
        first = [
            response
            for start in range(0, len(users), 500)
            for response in client.post(
                "/recommend", json={"requests": users[start : start + 500]}
            ).json()["responses"]
        ]
        again = client.post("/recommend", json={"requests": users[:200]}).json()["responses"]

    arms = [r["arm"] for r in first]
    assert 0.46 <= arms.count("treatment") / len(arms) <= 0.54  # 0.5 +- 4 standard errors
    assert [r["arm"] for r in again] == arms[:200]
    assert {(r["arm"], r["version"]) for r in first} == {("control", control),
                                                          ("treatment", treatment)}  # fmt: skip
    assert {r["experiment_id"] for r in first} == {spec["id"]}


def test_an_alias_move_is_served_without_a_restart_and_a_tampered_version_never(
    registry: ModelRegistry,
) -> None:
    first, second, tampered = (register_model(registry, seed) for seed in (1, 2, 3))
    registry.set_alias("champion", first, "test", "first")
    request = {"user_id": 1, "history": [3], "k": 3}

    with serving() as client:
        assert client.post("/recommend", json=request).json()["version"] == first
        registry.set_alias("champion", second, "test", "promoted")
        eventually(lambda: client.post("/recommend", json=request).json()["version"] == second)

        # Another writer points the alias at a version whose weights were then corrupted.
        registry.storage.write_bytes(f"{version_prefix(tampered)}/{WEIGHTS}", b"corrupt")
        document = json.loads(registry.storage.read_bytes(REGISTRY_ALIASES))
        document["aliases"]["champion"] = tampered
        registry.storage.write_bytes(REGISTRY_ALIASES, Storage.json_bytes(document))
        eventually(lambda: client.get("/readyz").json()["status"] == "degraded")
        health = client.get("/readyz").json()["arms"]["control"]
        assert health["version"] == second and WEIGHTS in health["error"]
        assert client.post("/recommend", json=request).json()["version"] == second


def test_without_a_champion_the_service_is_unavailable(registry: ModelRegistry) -> None:
    with serving() as client:
        assert client.get("/readyz").status_code == 503
        assert client.get("/healthz").status_code == 200  # alive, not ready
        assert client.post("/recommend", json={"user_id": 1, "history": [1]}).status_code == 503
        assert (
            client.post("/recommend", json={"user_id": 1, "history": [1], "k": 0}).status_code
            == 422
        )


def test_simulated_users_are_shown_the_services_slates_under_its_arms(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    root = str(tmp_path / "shop")
    common = ["--root", root, "--scale", "tiny", "--start", "2026-11-01"]
    assert cli.main(["simulate", *common, "--days", "3"]) == 0
    # The shop's items on its last day, on SIDs of 3 codes of 8 and a de-duplication token.
    catalog = LocalStorage(root).read_parquet("raw/catalog/dt=2026-11-03")
    ids = catalog["item_id"].to_pylist()
    items = {item: [item // 64, (item // 8) % 8, item % 8, 0] for item in ids}
    shape = PolicyConfig(vocab_sizes=(5, 8, 8, 1), max_history_items=20, d_model=16,
                         n_head=2, n_layer=1, prefix_buckets=0)  # fmt: skip
    control, treatment = (register_model(registry, seed, items, shape) for seed in (1, 2))
    registry.set_alias("champion", control, "test", "first")
    registry.set_alias("challenger", treatment, "test", "blessed")
    spec = start_experiment(registry, control, treatment, date(2026, 11, 4), load_config().ab_test)

    with serving(spec["id"]) as client:
        url = str(client.base_url)
        day = ["--ds", "2026-11-04", "--lookback-days", "1", "--serve", url]
        assert cli.main(["simulate", *common, *day]) == 0
        logs = LocalStorage(root).read_parquet("raw/exposures/dt=2026-11-04").to_pandas()
        served = logs[logs["experiment_id"] == spec["id"]]
        user = int(served["user_id"].iloc[0])
        history = UserHistories.from_logs(LocalStorage(root), date(2026, 11, 4), 20)(user)
        asked = client.post("/recommend", json={"user_id": user, "history": history, "k": 10})

    assert len(served) == len(logs)  # every request went through the service
    arms = served.groupby("user_id")["arm"].agg(set)
    assert (arms.map(len) == 1).all()  # a user stays in one arm
    assert 0.35 < (arms.map(min) == "treatment").mean() < 0.65
    first = served[served["request_id"] == served["request_id"].iloc[0]].sort_values("position")
    assert first["item_id"].tolist() == asked.json()["items"][: len(first)]
    assert first["arm"].iloc[0] == asked.json()["arm"]


def test_a_champion_that_cannot_be_loaded_leaves_the_last_one_serving(
    registry: ModelRegistry,
) -> None:
    first, broken = register_model(registry, 1), register_model(registry, 2)
    registry.set_alias("champion", first, "test", "first")
    request = {"user_id": 1, "history": [3], "k": 3}

    with serving() as client:
        assert client.post("/recommend", json=request).json()["version"] == first
        # The next champion's weights vanish after it was verified and pointed at.
        registry.set_alias("champion", broken, "test", "promoted")
        registry.storage.delete(f"{version_prefix(broken)}/{WEIGHTS}")
        eventually(lambda: client.get("/readyz").json()["status"] == "degraded")
        ready = client.get("/readyz")
        assert ready.status_code == 200 and WEIGHTS in ready.json()["reasons"][0]
        assert client.post("/recommend", json=request).json()["version"] == first


@pytest.mark.parametrize("damage", [b"", b"{not json", b"{}", b'{"aliases": {"champion": -1}}'])
def test_a_damaged_alias_document_moves_nothing_and_is_reported(
    registry: ModelRegistry, damage: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    champion = register_model(registry, 1)
    registry.set_alias("champion", champion, "test", "first")
    request = {"user_id": 1, "history": [3], "k": 3}

    with serving() as client:
        assert client.post("/recommend", json=request).json()["version"] == champion
        registry.storage.write_bytes(REGISTRY_ALIASES, damage)
        eventually(lambda: client.get("/readyz").json()["status"] == "degraded")
        assert "aliases unreadable" in client.get("/readyz").json()["reasons"][-1]
        for _ in range(3):  # every request after each refresh still answers
            assert client.post("/recommend", json=request).json()["version"] == champion
            time.sleep(SETTINGS.refresh_s)

    caplog.clear()
    assert cli.main(["registry", "list"]) == 2
    assert f"{REGISTRY_ALIASES} is not" in caplog.text and "Traceback" not in caplog.text


@pytest.mark.parametrize(
    ("field", "value"),
    [("user_id", 2**63), ("user_id", -1), ("user_id", True), ("history", [1, 2**64]),
     ("history", [False]), ("k", True), ("user_id", "7")],
)  # fmt: skip
def test_a_bad_id_anywhere_in_a_request_is_a_422_naming_it(
    registry: ModelRegistry, field: str, value: object
) -> None:
    registry.set_alias("champion", register_model(registry, 1), "test", "first")
    good = {"user_id": 1, "history": [3], "k": 3}
    with serving() as client:
        single = client.post("/recommend", json={**good, field: value})
        batch = client.post("/recommend", json={"requests": [good, {**good, field: value}]})
    for response in (single, batch):
        assert response.status_code == 422
        assert field in json.dumps(response.json()["detail"])


def test_a_registry_root_that_does_not_exist_is_refused_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = str(tmp_path / "no-such-registry")
    assert cli.main(["serve", "--registry", missing]) == 2
    assert cli.main(["registry", "--registry", missing, "list"]) == 2
    assert caplog.text.count(f"there is no registry at {missing}") == 2
    assert not Path(missing).exists()


def test_port_zero_binds_a_free_port_and_prints_it_and_a_busy_port_is_named(
    tmp_path: Path,
) -> None:
    import socket
    import subprocess
    import sys

    local = str(tmp_path / "registry")
    assert cli.main(["registry", "--registry", local, "init"]) == 0
    command = [sys.executable, "-m", "components.cli", "serve", "--registry", local]
    service = subprocess.Popen([*command, "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        assert service.stdout is not None
        line = service.stdout.readline()  # printed once the socket listens
        assert line.startswith("serving on http://127.0.0.1:")
        url = line.split()[-1]
        assert httpx.get(f"{url}/healthz", timeout=30).json() == {"status": "alive"}
        assert httpx.get(f"{url}/readyz", timeout=30).status_code == 503  # no champion yet
    finally:
        service.terminate()
        service.wait(timeout=30)

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        busy = subprocess.run(
            [*command, "--port", str(port)], capture_output=True, text=True, timeout=120
        )
    assert busy.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port} (Address already in use)" in busy.stderr
    assert "Traceback" not in busy.stderr


def test_a_call_above_the_cost_limit_is_refused_naming_it(registry: ModelRegistry) -> None:
    registry.set_alias("champion", register_model(registry, 1), "test", "first")
    settings = SETTINGS.model_copy(update={"max_request_cost": 30})  # beam 8: 3 users fit
    app = build_app(load_config().registry, settings, None)
    users = [{"user_id": user, "history": [3], "k": 3} for user in range(4)]
    with in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        refused = client.post("/recommend", json={"requests": users})
        allowed = client.post("/recommend", json={"requests": users[:3]})
    assert refused.status_code == 422 and "serving.max_request_cost 30" in refused.text
    assert allowed.status_code == 200


def test_a_full_queue_answers_429_with_retry_after(
    registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from components.serving.batching import MicroBatcher, QueueFull

    async def full(*_: object) -> None:
        raise QueueFull(3)

    registry.set_alias("champion", register_model(registry, 1), "test", "first")
    monkeypatch.setattr(MicroBatcher, "recommend", full)
    with serving() as client:
        response = client.post("/recommend", json={"user_id": 1, "history": [3], "k": 3})
    assert response.status_code == 429 and response.headers["Retry-After"] == "3"
    assert "retry after 3 s" in response.json()["detail"]


def test_with_a_token_set_recommend_asks_for_it_and_the_probes_do_not(
    registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry.set_alias("champion", register_model(registry, 1), "test", "first")
    monkeypatch.setenv("ADAGRPO__SERVING__TOKEN", "s3cret")
    settings = load_config().serving.model_copy(update={"refresh_s": 0.1, "beam_width": 8})
    assert "s3cret" not in load_config().to_yaml()  # never printed with the config
    app = build_app(load_config().registry, settings, None)
    request = {"user_id": 1, "history": [3], "k": 3}
    with in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        anonymous = client.post("/recommend", json=request)
        wrong = client.post("/recommend", json=request, headers={"Authorization": "Bearer no"})
        right = client.post("/recommend", json=request, headers={"Authorization": "Bearer s3cret"})
        probes = [client.get(path).status_code for path in ("/healthz", "/readyz")]
    for refused in (anonymous, wrong):
        assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
    assert right.status_code == 200 and probes == [200, 200]
