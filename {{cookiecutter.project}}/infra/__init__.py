"""AWS infrastructure for running the project's Airflow on EC2 against RDS, artifacts in S3.

`infra/aws.py` provisions it (run from the project root: `python -m infra.aws plan --env prod`);
the rest is installed on the host: `deploy.sh`, `run.sh`, `db_env.py` and the systemd units.
"""
