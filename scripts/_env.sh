# Shared set-up for scripts/demo and scripts/test (sourced, not run).
# Makes sure the system libraries WeasyPrint needs are present and that .venv holds
# the project with the requested extras. Safe to run repeatedly: the install step is
# skipped while pyproject.toml is unchanged.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
APT_PACKAGES="libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 fonts-dejavu-core"

need_system_libs() {
  for lib in libpango-1.0.so.0 libpangoft2-1.0.so.0 libharfbuzz.so.0; do
    ldconfig -p 2>/dev/null | grep -q "$lib" || return 0
  done
  return 1
}

ensure_system_libs() {
  if ! need_system_libs; then return 0; fi
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing system libraries for PDF rendering: $APT_PACKAGES"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $APT_PACKAGES >/dev/null
  else
    echo "PDF rendering needs Pango. Install it, then re-run this script:" >&2
    echo "  sudo apt-get install -y $APT_PACKAGES" >&2
    exit 1
  fi
}

ensure_python() {
  if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
    echo "NRR Engine needs Python 3.11 or newer; set PYTHON=/path/to/python3.11 and re-run." >&2
    exit 1
  fi
}

# ensure_venv EXTRAS  (e.g. "test" or "test,spark"; empty for none)
ensure_venv() {
  local extras="$1" spec="$ROOT" stamp
  [ -n "$extras" ] && spec="$ROOT[$extras]"
  ensure_python
  if [ ! -x "$ROOT/.venv/bin/python" ]; then
    "$PY" -m venv "$ROOT/.venv"
  fi
  stamp="$ROOT/.venv/.nrr-installed-$(echo "$extras" | tr ',' '-')"
  if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
    "$ROOT/.venv/bin/python" -m pip install -q --upgrade pip
    "$ROOT/.venv/bin/python" -m pip install -q -e "$spec"
    touch "$stamp"
  fi
}
