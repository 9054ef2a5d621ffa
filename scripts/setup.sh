#!/usr/bin/env bash
# Idempotent machine setup for wplambda development, demos and CI on Debian/Ubuntu:
# installs the Debian packages that are missing, then creates .venv with the kit and its dev tools.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  python3-venv
  mariadb-server mariadb-client              # the private database of serve, build and tests
  php-fpm php-cli php-mysql php-mbstring     # Debian's PHP: the local PHP source
  php-xml php-curl php-zip php-intl php-gd
  php-imagick                                # the other image library doctor and the build look for
  wordpress                                  # a local WordPress tree: offline builds and tests
  wordpress-theme-twentytwentythree          # only Recommended by wordpress: without it every page is blank
  wordpress-l10n                             # only Recommended too: the languages/ tree the build ships
  composer                                   # installs S3 Uploads
  nginx-light wrk                            # benchmark baseline and load generator
  chromium                                   # the browser tests (Playwright drives it)
  libatomic1                                 # Playwright's bundled node needs libatomic.so.1
  nodejs                                     # runs the CloudFront Function's JavaScript in the template tests
  zip unzip curl ca-certificates
  util-linux                                 # unshare: build.opcache_file_cache compiles the tree as /var/task
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  # policy-rc.d-free: the packages' own services are never used (wplambda runs its own), so
  # don't let a failing service start abort the install.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: all ${#PACKAGES[@]} Debian packages present"
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.wplambda-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  echo "setup: installing the kit and its dev tools into .venv (pip)"
  .venv/bin/python -m pip install -q -e '.[dev]'
  touch "$stamp"
fi
# checkov (`make checkov` and tests/integration/template/test_template_checkov.py) lives in a venv of
# its own: it pins boto3, packaging and networkx to versions the kit's dev tools do not share.
CHECKOV_VERSION=3.3.30
# The version stamp is written last, so an interrupted install is redone rather than trusted (a venv
# cannot be built aside and renamed: its scripts name their interpreter by absolute path).
if ! grep -qx "$CHECKOV_VERSION" .venv-checkov/.version 2>/dev/null; then
  echo "setup: installing checkov $CHECKOV_VERSION into .venv-checkov (pip, about a minute)"
  rm -rf .venv-checkov
  "$PYTHON" -m venv .venv-checkov
  .venv-checkov/bin/python -m pip install -q "checkov==$CHECKOV_VERSION"
  echo "$CHECKOV_VERSION" > .venv-checkov/.version
fi
echo "setup: ready (.venv/bin/wplambda)"
