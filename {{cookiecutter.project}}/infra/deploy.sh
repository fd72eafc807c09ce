#!/bin/bash
# Install the current release of {{ cookiecutter.project }} on the Airflow host, then (re)start Airflow.
#
# Runs as root, as /usr/local/sbin/{{ cookiecutter.project }}-deploy: from the EC2 user data at
# first boot, then for each `python -m infra.aws deploy` (through SSM Run Command).
# Safe to run again. Settings come from /etc/{{ cookiecutter.project }}/airflow.env, written by
# the user data (see infra/airflow.env.example). Log: /var/log/{{ cookiecutter.project }}-deploy.log
#
# `deploy.sh --fetch-only DIR` only downloads, verifies and unpacks the release into DIR.
set -euo pipefail

PROJECT="{{ cookiecutter.project }}"
PYTHON_VERSION="{{ cookiecutter.python_version }}"
ENV_FILE="${DEPLOY_ENV_FILE:-/etc/$PROJECT/airflow.env}"
ROOT="${DEPLOY_ROOT:-/opt/$PROJECT}"
TOOLS="$ROOT/tools"
RDS_CA_URL="https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
setting() { sed -n "s/^$1=//p" "$ENV_FILE" | tail -n 1; }

# The release named by releases/current.json (written by the operator; this host may only
# read releases/), in the bucket of the expected account, at the recorded S3 version,
# with the recorded sha256: anything else is refused before it is unpacked.
fetch_release() {
    local target="$1"
    "$TOOLS/bin/python" - "$(setting RELEASE_MANIFEST)" "$(setting S3_BUCKET_OWNER)" \
        "$(setting AWS_REGION)" "$target.tar.gz" <<'PY'
import hashlib
import json
import sys

import boto3

manifest_uri, owner, region, target = sys.argv[1:]
bucket, manifest_key = manifest_uri.removeprefix("s3://").split("/", 1)
s3 = boto3.client("s3", region_name=region)
manifest = json.load(s3.get_object(Bucket=bucket, Key=manifest_key, ExpectedBucketOwner=owner)["Body"])
release = s3.get_object(
    Bucket=bucket, Key=manifest["key"], VersionId=manifest["version_id"], ExpectedBucketOwner=owner
)
data = release["Body"].read()
digest = hashlib.sha256(data).hexdigest()
if release.get("VersionId") != manifest["version_id"]:
    sys.exit(f"refused: s3://{bucket}/{manifest['key']} is version {release.get('VersionId')}, "
             f"the manifest says {manifest['version_id']}")
if digest != manifest["sha256"]:
    sys.exit(f"refused: s3://{bucket}/{manifest['key']} has sha256 {digest}, the manifest says {manifest['sha256']}")
with open(target, "wb") as out:
    out.write(data)
print(f"release {manifest['commit']} verified: version {manifest['version_id']}, sha256 {digest}")
PY
    mkdir -p "$target"
    tar --no-same-owner --no-same-permissions -xzf "$target.tar.gz" -C "$target"
    rm "$target.tar.gz"
}

if [ "${1:-}" = "--fetch-only" ]; then
    fetch_release "$2"
    exit 0
fi

exec > >(tee -a "/var/log/$PROJECT-deploy.log") 2>&1
echo "== deploy $(date -u +%FT%TZ)"
UNITS="airflow-api-server.service airflow-scheduler.service airflow-dag-processor.service airflow-triggerer.service"
{%- if cookiecutter.executor == "celery" %}
UNITS="$UNITS airflow-celery-worker@1.service"  # one worker per host; more hosts, more workers
{%- endif %}

# 1. OS packages, the service user, its directories, the RDS CA bundle (TLS verify-full).
if ! dpkg -s python3-venv >/dev/null 2>&1; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv
fi
id -u airflow >/dev/null 2>&1 ||
    useradd --system --create-home --home-dir "/var/lib/$PROJECT" --shell /usr/sbin/nologin airflow
install -d -o airflow -g airflow -m 0750 "$(setting AIRFLOW_HOME)" "$(setting STATE_DIR)"
chown root:airflow "$ENV_FILE"
chmod 0640 "$ENV_FILE"
CA_BUNDLE="$(setting DB_CA_BUNDLE)"
if [ ! -s "$CA_BUNDLE" ]; then
    curl --fail --silent --show-error --proto =https -o "$CA_BUNDLE.new" "$RDS_CA_URL"
    install -m 0644 "$CA_BUNDLE.new" "$CA_BUNDLE" && rm "$CA_BUNDLE.new"
fi

# 2. uv and boto3 for this script; each release gets its own venv.
if [ ! -x "$TOOLS/bin/uv" ]; then
    python3 -m venv "$TOOLS"
    "$TOOLS/bin/pip" install --quiet --disable-pip-version-check uv boto3
fi
export UV_PYTHON_INSTALL_DIR="$ROOT/python" UV_CACHE_DIR="$ROOT/cache"

# 3. Fetch and verify the release, unpack it beside the earlier ones, build its venv.
release="$ROOT/releases/$(date -u +%Y%m%dT%H%M%SZ)"
fetch_release "$release"
"$TOOLS/bin/uv" venv --quiet --python "$PYTHON_VERSION" "$release/.venv"
"$TOOLS/bin/uv" pip install --quiet --python "$release/.venv/bin/python" \
    -c "$release/constraints.txt" -e "$release"
"$release/.venv/bin/python" -m compileall -q "$release/src" "$release/dags" "$release/infra" >/dev/null

# 4. Migrate Airflow's metadata with the new code (waiting for RDS and for the logins that
#    `python -m infra.logins` creates from the operator's machine), then switch `current`.
#    The warehouse is migrated from there too: this host holds no login that may change it.
run() { APP_DIR="$release" bash "$release/infra/run.sh" "$@"; }
for attempt in $(seq 60); do
    error="$(run airflow db check 2>&1 >/dev/null)" && break
    [ "$attempt" -lt 60 ] || { echo "database unreachable, giving up: $error"; exit 1; }
    echo "waiting for the database ($attempt/60): $(tail -n 1 <<<"$error")"
    sleep 30
done
run airflow db migrate
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
