# Sourced by run-dag.sh and airflow-local.sh from the repository root: the local Airflow of this
# checkout, with its SQLite metadata database under var/airflow (or $AIRFLOW_HOME), the DAGs of
# dags/ and LocalExecutor; airflow_init migrates the database and makes the training pool.
export AIRFLOW_HOME=${AIRFLOW_HOME:-$PWD/var/airflow}
export AIRFLOW__CORE__DAGS_FOLDER=$PWD/dags
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__EXECUTOR=LocalExecutor
# SQLite takes one writer at a time; a CLI write (a backfill clearing its runs) waits for the
# scheduler's up to a minute instead of sqlite3's 5 s before "database is locked".
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-sqlite:///$AIRFLOW_HOME/airflow.db?timeout=60}
export PATH=$PWD/.venv/bin:$PATH
mkdir -p "$AIRFLOW_HOME"

airflow_init() {
  docker/airflow/entrypoint init >"$AIRFLOW_HOME/migrate.log" 2>&1 \
    || { cat "$AIRFLOW_HOME/migrate.log" >&2; return 1; }
}
