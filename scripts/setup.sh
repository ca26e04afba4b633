#!/usr/bin/env bash
# Create ./.venv (if missing) and install insvie into it with the given extras, e.g. `scripts/setup.sh test`.
# Re-running is cheap: pip only installs what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
fi
# torch comes first and pinned: here 2.13.0 resolves to a local CPU build, while an unpinned torch
# pulled in by an extra would fetch a multi-GB CUDA build. INSVIE_TORCH overrides the pin.
case ",$extras," in
  *,test,*|*,shots,*|*,embed,*|*,models,*)
    .venv/bin/python -m pip install --quiet --disable-pip-version-check "${INSVIE_TORCH:-torch==2.13.0}" 2>&1 \
      | grep -v -e "is ignored: it is neither a file nor a directory" || true ;;
esac
spec="."
[ -n "$extras" ] && spec=".[${extras}]"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$spec" 2>&1 \
  | grep -v -e "is ignored: it is neither a file nor a directory" || true
# The app's browser tests drive Debian's chromium (Playwright's own browser download is never used).
case ",$extras," in
  *,test,*)
    if [ ! -x /usr/bin/chromium ]; then
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/tmp/insvie-apt-chromium.log 2>&1 \
          || echo "setup: installing chromium failed (see /tmp/insvie-apt-chromium.log); the browser tests will be skipped" >&2
      else
        echo "setup: /usr/bin/chromium is missing; install Debian's chromium (apt-get install chromium) to run the browser tests" >&2
      fi
    fi ;;
esac
