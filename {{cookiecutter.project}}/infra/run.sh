#!/bin/bash
# Run a command as the airflow user with the services' environment and database URLs.
# Installed as /usr/local/bin/{{ cookiecutter.project }}-run by infra/deploy.sh, e.g.
#   sudo {{ cookiecutter.project }}-run airflow dags list
#   sudo {{ cookiecutter.project }}-run python -m {{ cookiecutter.project }}.registry --reason "..."
set -euo pipefail
cd "${APP_DIR:-/opt/{{ cookiecutter.project }}/current}"
# shellcheck disable=SC2016  # expanded by the inner bash: $0 is the env file, $@ the command
exec runuser -u airflow -- bash -c 'set -a; . "$0"; set +a; exec .venv/bin/python -m infra.db_env -- "$@"' \
    "/etc/{{ cookiecutter.project }}/airflow.env" "$@"
