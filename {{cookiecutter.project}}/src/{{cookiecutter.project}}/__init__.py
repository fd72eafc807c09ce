"""{{ cookiecutter.project_name }}: batch ML predictions on Apache Airflow 3."""
