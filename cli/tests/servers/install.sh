#!/usr/bin/env bash
# Installs the third-party servers that cli/tests/real_servers.rs and real_limiters.rs run
# paceline against (json-server, Django REST framework, express with express-rate-limit), into
# target/real-servers/ (project-local; nothing global). Idempotent: skips what is already there
# at the pinned version. .ci/run calls it; run it by hand to run those tests outside CI.
# The version pins live here and nowhere else.
set -euo pipefail

JSON_SERVER=json-server@0.17.4
EXPRESS=express@5.3.0                        # for cli/tests/servers/express/app.js
EXPRESS_RATE_LIMIT=express-rate-limit@8.7.5
PY_PACKAGES=("Django==5.2.*" "djangorestframework==3.18.*")   # Django 6 needs Python 3.12

cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
dir=target/real-servers
mkdir -p "$dir"

# What a finished install of each part is stamped with; a changed pin reinstalls that part.
node_stamp="$JSON_SERVER $EXPRESS $EXPRESS_RATE_LIMIT"
py_stamp="${PY_PACKAGES[*]} python $(python3 -c 'import sys; print(*sys.version_info[:2], sep=".")')"

if [[ $(cat "$dir/node.installed" 2>/dev/null) != "$node_stamp" ]] \
    || [[ ! -x $dir/node/node_modules/.bin/json-server ]] \
    || [[ ! -f $dir/node/node_modules/express-rate-limit/package.json ]]; then
    if ! command -v npm >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q nodejs npm >/dev/null 2>&1 \
            || { apt-get update -q >/dev/null && apt-get install -y -q nodejs npm >/dev/null; }
    fi
    rm -rf "$dir/node" "$dir/node.installed"
    npm install --prefix "$dir/node" "$JSON_SERVER" "$EXPRESS" "$EXPRESS_RATE_LIMIT" --no-audit --no-fund --loglevel=error
    echo "$node_stamp" >"$dir/node.installed"
fi

if [[ $(cat "$dir/py.installed" 2>/dev/null) != "$py_stamp" ]] || [[ ! -d $dir/py/rest_framework ]]; then
    rm -rf "$dir/py" "$dir/py.installed"
    python3 -m pip install --disable-pip-version-check --no-warn-script-location -q \
        --root-user-action=ignore --target "$dir/py" "${PY_PACKAGES[@]}"
    echo "$py_stamp" >"$dir/py.installed"
fi

echo "json-server $("$dir/node/node_modules/.bin/json-server" --version) (node $(node --version))"
node -e 'const v = (m) => require(`${process.argv[1]}/node_modules/${m}/package.json`).version;
console.log(`express ${v("express")}, express-rate-limit ${v("express-rate-limit")}`)' "$PWD/$dir/node"
PYTHONPATH=$dir/py python3 -c 'import django, rest_framework as r, sys
print(f"Django {django.__version__}, djangorestframework {r.__version__} (python {sys.version.split()[0]})")'
