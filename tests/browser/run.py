"""The meson test browser-dashboard: installs the pinned playwright-core
(tests/browser/package-lock.json) with npm ci into the build directory (fitdtest.npm_ci), as
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

import os
import shutil
import subprocess
import sys

from fitdtest import npm_ci

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
    npm_ci(HERE, cache, ("package.json", "package-lock.json", "dashboard.mjs"))
    return subprocess.run(["node", "dashboard.mjs"], cwd=cache, timeout=900).returncode


if __name__ == "__main__":
    sys.exit(main())
