"""Deployment tests: a real Airflow (scheduler, triggerer, dag-processor, api-server) started in subprocesses."""
