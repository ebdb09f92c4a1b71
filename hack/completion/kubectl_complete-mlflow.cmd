@echo off
rem kubectl (v1.26 and later) runs kubectl_complete-mlflow from PATH to complete "kubectl mlflow ...".
rem It passes the words after "mlflow", ending with the word being completed.
kubectl-mlflow.exe __complete %*
