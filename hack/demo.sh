#!/usr/bin/env bash
# Runs explain-hpa offline on the shipped MLflow example: no cluster is needed.
set -euo pipefail
cd "$(dirname "$0")/.."

# The example's objects are consistent with this evaluation time (see examples/mlflow/README.md).
NOW="$(cat examples/mlflow/NOW)"

echo "\$ kubectl mlflow explain-hpa mlflow -n mlflow -f examples/mlflow --now ${NOW}"
bin/kubectl-mlflow explain-hpa mlflow -n mlflow -f examples/mlflow --now "${NOW}"
