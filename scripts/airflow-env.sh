# Sourced by run-dag.sh and airflow-local.sh from the repository root: the local Airflow of this
# checkout, with its SQLite metadata database under var/airflow (or $AIRFLOW_HOME), the DAGs of
# dags/ and LocalExecutor; airflow_init migrates the database and makes the training pool.
export AIRFLOW_HOME=${AIRFLOW_HOME:-$PWD/var/airflow}
export AIRFLOW__CORE__DAGS_FOLDER=$PWD/dags
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__EXECUTOR=LocalExecutor
export PATH=$PWD/.venv/bin:$PATH
mkdir -p "$AIRFLOW_HOME"

airflow_init() {
  docker/airflow/entrypoint init >"$AIRFLOW_HOME/migrate.log" 2>&1 \
    || { cat "$AIRFLOW_HOME/migrate.log" >&2; return 1; }
}
