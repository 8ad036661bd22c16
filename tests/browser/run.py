"""The meson test browser-dashboard: installs the pinned playwright-core
(tests/browser/package-lock.json) with npm ci into the build directory, as
test_openapi.py installs its validator, then runs dashboard.mjs there with
node. dashboard.mjs starts its own fitd daemons (FITD_BIN) and drives
Debian's chromium (deploy/deps.sh test installs it); its screenshots go to
FITD_SCREENSHOT_DIR, the build directory.

Under ASan and UBSan (FITD_SANITIZE) the test is skipped (exit 77): the
page is the same JavaScript against the same HTTP answers, and the
sanitized daemon's slower trials would stretch the timing-bound steps (a
5,000-trial job, live jobs watched to their end) far past the suite's
budget; the HTTP paths the page uses are run under the sanitizers by the
integration tests (integration-dashboard: the dashboard's routes, gzip,
ETags and GET /v1/whoami; integration-openapi: every route the page
calls)."""

import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    if os.environ.get("FITD_SANITIZE", "none") not in ("", "none"):
        print("skipped under the sanitizers: see tests/browser/run.py")
        return 77
    npm = shutil.which("npm")
    chromium = os.environ.get("FITD_CHROMIUM", "/usr/bin/chromium")
    if npm is None or not os.path.exists(chromium):
        print("npm and chromium are needed: deploy/deps.sh test installs them")
        return 1
    cache = os.environ["FITD_NPM_DIR"]
    os.makedirs(cache, exist_ok=True)
    for name in ("package.json", "package-lock.json", "dashboard.mjs"):
        shutil.copyfile(os.path.join(HERE, name), os.path.join(cache, name))
    stamp = os.path.join(cache, "node_modules", ".package-lock.json")
    with open(os.path.join(HERE, "package-lock.json")) as f:
        lock = json.load(f)["packages"]
    try:
        with open(stamp) as f:
            installed = json.load(f)["packages"]
    except (OSError, ValueError, KeyError):
        installed = None
    if installed != {k: v for k, v in lock.items() if k}:
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=cache,
                       check=True, timeout=600)
    return subprocess.run(["node", "dashboard.mjs"], cwd=cache, timeout=900).returncode


if __name__ == "__main__":
    sys.exit(main())
