#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine, and nothing if it is already
# there: Python packages from PyPI (ci/requirements.txt) and Debian packages.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pip=0
python3 - <<'PY' || need_pip=1
import importlib, sys
for mod in ("moto.server", "flask_cors", "duckdb", "psycopg", "sqlalchemy", "websocket",
            "lifetimes", "lifelines"):
    importlib.import_module(mod)
PY
if [ "$need_pip" = 1 ]; then
  echo "ci/setup.sh: installing Python packages from ci/requirements.txt"
  python3 -m pip install --quiet --disable-pip-version-check -r ci/requirements.txt
  # lifelines pins pandas<3 in its metadata; see the file for why it is installed without it.
  python3 -m pip install --quiet --disable-pip-version-check --no-deps -r ci/requirements-nodeps.txt
fi

need_nb=0
python3 - <<'PY' || need_nb=1
import importlib
for mod in ("nbclient", "nbformat", "ipykernel", "pandas", "matplotlib"):
    importlib.import_module(mod)
PY
if [ "$need_nb" = 1 ]; then
  echo "ci/setup.sh: installing the notebooks' Python packages from notebooks/requirements.txt"
  python3 -m pip install --quiet --disable-pip-version-check -r notebooks/requirements.txt
fi

missing_apt=()
command -v psql >/dev/null 2>&1 || missing_apt+=(postgresql-client)
command -v openssl >/dev/null 2>&1 || missing_apt+=(openssl)
# pgjdbc (Metabase's, Tableau's and DBeaver's driver) and a JDK to run its test client
# with Java's single-file launcher (which needs the compiler), for the serve tests.
command -v javac >/dev/null 2>&1 || missing_apt+=(default-jdk-headless)
[ -f /usr/share/java/postgresql.jar ] || missing_apt+=(libpostgresql-jdbc-java)
# Headless browser for ci/check_report.py (the report must open without errors or requests).
command -v chromium >/dev/null 2>&1 || missing_apt+=(chromium)
# A Japanese font, so the screenshots of the Japanese report show text rather than boxes.
if ! fc-list :lang=ja 2>/dev/null | grep -q .; then missing_apt+=(fonts-noto-cjk); fi
if [ "${#missing_apt[@]}" -gt 0 ]; then
  echo "ci/setup.sh: installing Debian packages: ${missing_apt[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing_apt[@]}" >/dev/null
fi
