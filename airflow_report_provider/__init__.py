"""Apache Airflow provider for asynchronous report APIs (Criteo MPO real-time exports, Walmart on-request reports)."""

__version__ = "0.1.0"
