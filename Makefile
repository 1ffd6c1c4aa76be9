# Everything a fresh machine needs is installed by these targets; nothing is assumed by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# Kubeflow Pipelines' SDK lives apart: its pins conflict with Airflow's (pyproject's kfp extra).
KFP_VENV := .venv-kfp
KFP_INSTALLED := $(KFP_VENV)/.installed
KFP_EXTRA = $(shell $(PYTHON) -c 'import tomllib; print(" ".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["kfp"]))')
DEMO_DS ?= 2026-11-14
# The amazon-beauty folder the Beauty benchmarks read (docs/benchmarks.md says where it comes from).
BEAUTY ?=
# bench-beauty-rl's budget: a 20-epoch SFT run, checkpoints chosen on 5,000 validation users.
BEAUTY_RL_SETTINGS ?= --set train.epochs=20 --set evaluate.valid_users=5000 --set evaluate.test_users=5000

.PHONY: setup java redis demo airflow compose-demo test test-fast test-live test-compose bench bench-airflow bench-compose bench-experiment bench-recipe bench-regimes bench-ab bench-scale bench-multinode bench-serve bench-quality bench-beauty-rl lint format lock clean

setup: $(INSTALLED) $(KFP_INSTALLED) java redis

$(INSTALLED): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --constraint constraints.txt --editable ".[dev]"
	$(BIN)/pip check
	touch $@

$(KFP_INSTALLED): pyproject.toml constraints-kfp.txt
	test -x $(KFP_VENV)/bin/python || $(PYTHON) -m venv $(KFP_VENV)
	$(KFP_VENV)/bin/pip install --quiet --upgrade pip
	$(KFP_VENV)/bin/pip install --quiet --constraint constraints-kfp.txt $(foreach r,$(KFP_EXTRA),'$(r)')
	$(KFP_VENV)/bin/pip install --quiet --no-deps --editable .
	@# pip check, but for the package's own dependencies, which this environment leaves out
	! $(KFP_VENV)/bin/pip check | grep -v '^adagrpo-pipeline '
	touch $@

java:  # Spark 4 needs Java 17+
	@scripts/ensure-java.sh

redis:  # the Redis online store's test and the scale benchmark start their own servers
	@scripts/ensure-redis.sh

demo: setup
	ADAGRPO_CONFIG=configs/demo.yaml scripts/run-dag.sh $(DEMO_DS) '{"lookback_days": 14, "scale": "demo"}'
	@echo "Validation reports: var/demo/quality/exposures/dt=*/report.html"
	@echo "Registered models: $(BIN)/adagrpo registry list (registry root var/registry)"

# A live Airflow (UI, REST API, scheduler) for this checkout on 127.0.0.1:8080; Ctrl-C stops it.
airflow: setup
	scripts/airflow-local.sh

# The demo day on the compose stack (docker-compose.yml), which stays up for the UI;
# OFFLINE=1 builds every image from a local base where no registry can be reached.
compose-demo: setup
	scripts/compose-demo.sh $(DEMO_DS) '{"lookback_days": 14, "scale": "demo"}'

test: setup  # every test, the compose stack's included (it installs a Docker engine if needed)
	$(BIN)/pytest

test-fast: setup
	$(BIN)/pytest -m "not spark and not airflow and not live and not compose"

test-live: setup  # a live Airflow on loopback: backfills over REST and CLI, the UI in Chromium
	$(BIN)/pytest -m live

test-compose: setup  # the images built offline, the stack up, the DAG run in it, torn down
	$(BIN)/pytest -m compose

bench: setup
	$(BIN)/python -m benchmarks.run $(if $(BEAUTY),--beauty $(BEAUTY))

bench-airflow: setup  # the demo day under a live scheduler against airflow dags test; a backfill
	$(BIN)/python -m benchmarks.airflow

bench-compose: setup  # make demo against make compose-demo OFFLINE=1, side by side
	$(BIN)/python -m benchmarks.compose

bench-experiment: setup  # every method from the demo day's SFT run, over seeds (after make demo)
	$(BIN)/python -m benchmarks.experiment

bench-recipe: setup  # the RL recipe chosen on the demo day's validation split, every try recorded (after make demo)
	$(BIN)/python -m benchmarks.recipe

bench-regimes: setup  # every method under three exposure-bias levels of the simulated shop, against the truth (after make demo)
	$(BIN)/python -m benchmarks.regimes

bench-ab: setup  # the online claim: NLL against AdaGRPO and the mixtures, served to the simulated users (after bench-regimes)
	$(BIN)/python -m benchmarks.ab

bench-scale: setup  # one day of extract, validate, features and build-dataset at 10M, 30M and 100M exposures: time and peak memory; then the trainer's and evaluation's inputs, streamed against in memory
	$(BIN)/python -m benchmarks.scale $(if $(SIZES),--sizes $(SIZES))
	$(BIN)/python -m benchmarks.training_input
	$(BIN)/python -m benchmarks.evaluation_input

bench-multinode: setup  # SFT and AdaGRPO on the demo day: one process against two torchrun "nodes" on loopback, time and weight gap (after make demo)
	$(BIN)/python -m benchmarks.multinode

bench-serve: setup  # adagrpo serve under 1, 10 and 50 concurrent clients, micro-batching on and off
	$(BIN)/python -m benchmarks.run --only serving

bench-quality: setup  # the SFT policy on Amazon Beauty against TIGER's published numbers
	@test -n "$(BEAUTY)" || { echo "usage: make bench-quality BEAUTY=path/to/amazon-beauty (docs/benchmarks.md)"; exit 2; }
	$(BIN)/python -m benchmarks.quality $(BEAUTY)

bench-beauty-rl: setup  # Beauty under a plausible logging policy: the rankers of both replays, NLL, the mixture and AdaGRPO with intervals
	@test -n "$(BEAUTY)" || { echo "usage: make bench-beauty-rl BEAUTY=path/to/amazon-beauty (docs/benchmarks.md)"; exit 2; }
	$(BIN)/python -m benchmarks.beauty_rl $(BEAUTY) $(BEAUTY_RL_SETTINGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy components dags benchmarks

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

lock: $(INSTALLED) $(KFP_INSTALLED)  # re-pin the proven set after changing pyproject.toml
	{ echo "# The full library set proven together (pip check clean, tests green)."; \
	  echo "# Regenerate with 'make lock' after changing pyproject.toml."; \
	  $(BIN)/pip freeze --exclude-editable | sed 's/+cpu$$//'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
	{ sed -n '1,2p' constraints-kfp.txt; \
	  $(KFP_VENV)/bin/pip freeze --exclude-editable; } > constraints-kfp.txt.new
	mv constraints-kfp.txt.new constraints-kfp.txt

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
