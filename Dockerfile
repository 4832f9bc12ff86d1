# The one image of the docker-compose stack: Apache Airflow 3.3 with this provider (and its S3 extra) installed.
# Every Airflow service (api-server, scheduler, dag-processor, triggerer, celery worker, init) and the API
# simulator run from it.
#
#   docker compose build            # or: docker build -t airflow-report-provider:local .
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11
FROM ${AIRFLOW_IMAGE}

# Only what the package needs: the example DAGs are mounted by docker-compose, tests stay out of the image.
COPY --chown=airflow:0 pyproject.toml README.md /opt/airflow-report-provider/
COPY --chown=airflow:0 airflow_report_provider /opt/airflow-report-provider/airflow_report_provider

# Pin the image's own Airflow version (AIRFLOW_VERSION is set by the base image) so that installing the
# provider never upgrades or downgrades Airflow itself.
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" "/opt/airflow-report-provider[s3]" \
    && python -c "import airflow_report_provider.simulator, airflow_report_provider.transfers.walmart_to_object_storage"
