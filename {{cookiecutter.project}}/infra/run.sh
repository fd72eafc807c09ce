#!/bin/bash
# Run a command as the airflow user with the services' settings and connections.
# Installed as /usr/local/bin/{{ cookiecutter.project }}-run by infra/deploy.sh, e.g.
#   sudo {{ cookiecutter.project }}-run airflow dags list
#   sudo {{ cookiecutter.project }}-run python -m {{ cookiecutter.project }}.registry --reason "..."
# infra/db_env.py parses the env file as KEY=value lines: it is never run as shell.
set -euo pipefail
cd "${APP_DIR:-/opt/{{ cookiecutter.project }}/current}"
exec runuser -u airflow -- .venv/bin/python -m infra.db_env \
    --env-file "/etc/{{ cookiecutter.project }}/airflow.env" -- "$@"
