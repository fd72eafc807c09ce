#!/bin/bash
# Install the current release of {{ cookiecutter.project }} on the Airflow host, then (re)start Airflow.
#
# Runs as root, as /usr/local/sbin/{{ cookiecutter.project }}-deploy: from the EC2 user data at
# first boot, then for each `python -m infra.aws deploy` (through SSM Run Command).
# Safe to run again. Settings come from /etc/{{ cookiecutter.project }}/airflow.env, written by
# the user data (see infra/airflow.env.example). Log: /var/log/{{ cookiecutter.project }}-deploy.log
set -euo pipefail
exec > >(tee -a "/var/log/{{ cookiecutter.project }}-deploy.log") 2>&1
echo "== deploy $(date -u +%FT%TZ)"

PROJECT="{{ cookiecutter.project }}"
PYTHON_VERSION="{{ cookiecutter.python_version }}"
ENV_FILE="/etc/$PROJECT/airflow.env"
ROOT="/opt/$PROJECT"
TOOLS="$ROOT/tools"
UNITS="airflow-api-server.service airflow-scheduler.service airflow-dag-processor.service airflow-triggerer.service"
setting() { sed -n "s/^$1=//p" "$ENV_FILE" | tail -n 1; }

# 1. OS packages, the service user, its directories.
if ! dpkg -s python3-venv >/dev/null 2>&1; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv
fi
id -u airflow >/dev/null 2>&1 ||
    useradd --system --create-home --home-dir "/var/lib/$PROJECT" --shell /usr/sbin/nologin airflow
install -d -o airflow -g airflow -m 0750 "$(setting AIRFLOW_HOME)" "$(setting STATE_DIR)"
chown root:airflow "$ENV_FILE"
chmod 0640 "$ENV_FILE"

# 2. uv and boto3 for this script; each release gets its own venv.
if [ ! -x "$TOOLS/bin/uv" ]; then
    python3 -m venv "$TOOLS"
    "$TOOLS/bin/pip" install --quiet --disable-pip-version-check uv boto3
fi
export UV_PYTHON_INSTALL_DIR="$ROOT/python" UV_CACHE_DIR="$ROOT/cache"

# 3. Unpack the release beside the earlier ones and build its venv from the pinned constraints.
release="$ROOT/releases/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$release"
"$TOOLS/bin/python" - "$(setting RELEASE_URI)" "$release.tar.gz" "$(setting AWS_REGION)" <<'PY'
import sys

import boto3

uri, target, region = sys.argv[1:]
bucket, key = uri.removeprefix("s3://").split("/", 1)
boto3.client("s3", region_name=region).download_file(bucket, key, target)
PY
tar --no-same-owner -xzf "$release.tar.gz" -C "$release"
rm "$release.tar.gz"
"$TOOLS/bin/uv" venv --quiet --python "$PYTHON_VERSION" "$release/.venv"
"$TOOLS/bin/uv" pip install --quiet --python "$release/.venv/bin/python" \
    -c "$release/constraints.txt" -e "$release"
"$release/.venv/bin/python" -m compileall -q "$release/src" "$release/dags" "$release/infra" >/dev/null

# 4. Migrate the Airflow metadata and the warehouse with the new code (waiting for RDS
#    on first boot), then switch `current` to it. Code stays root-owned, read-only to airflow.
run() { APP_DIR="$release" bash "$release/infra/run.sh" "$@"; }
for attempt in $(seq 60); do
    run airflow db check >/dev/null 2>&1 && break
    [ "$attempt" -lt 60 ] || { echo "database unreachable: giving up"; exit 1; }
    echo "waiting for the database ($attempt/60)"
    sleep 30
done
run airflow db migrate
run python -m "$PROJECT.warehouse.migrate"
ln -sfn "$release" "$ROOT/current.new"
mv -T "$ROOT/current.new" "$ROOT/current"

# 5. Install the units and helpers of this release, restart Airflow, keep three releases.
install -m 0644 "$ROOT/current/infra/systemd/"*.service /etc/systemd/system/
install -m 0755 "$ROOT/current/infra/run.sh" "/usr/local/bin/$PROJECT-run"
install -m 0755 "$ROOT/current/infra/deploy.sh" "/usr/local/sbin/$PROJECT-deploy"
systemctl daemon-reload
# shellcheck disable=SC2086  # UNITS is a list
systemctl enable --quiet $UNITS
# shellcheck disable=SC2086
systemctl restart $UNITS
find "$ROOT/releases" -mindepth 1 -maxdepth 1 -type d | sort | head -n -3 | xargs -r rm -rf
echo "== deployed $release"
