"""mamori: security monitoring as code for AWS, on Apache Airflow."""

__version__ = "0.1.0"
