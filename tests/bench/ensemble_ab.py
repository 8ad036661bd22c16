"""ensemble_ab.py - does the ensemble help on held-out rows? Per table of the
quality benchmark (its 80/20 split, seed 0), one fitd job with
search.ensemble "auto" and one with false, same budget and seed, one after
the other on one daemon; prints each side's held-out score (accuracy or
RMSE, quality.py's scorer), the final model's kind, job time and trials.
With the same trials on both sides (same count) the pair differs only in
the final step: the ensemble or the one-standard-error single model.

  /usr/bin/python3 tests/bench/ensemble_ab.py            # after meson compile -C build
  BUDGET=10 QUALITY_TABLES="iris wine" FITD_BIN=... /usr/bin/python3 tests/bench/ensemble_ab.py

Output under $FITD_BENCH_DIR/ensemble_ab (default tests/bench/out/).
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
os.environ.setdefault("FITD_BIN", os.path.join(ROOT, "build", "daemon", "fitd"))
os.environ.setdefault("FITD_TEST_DATA", os.path.join(ROOT, "tests", "data"))

import quality as q  # noqa: E402
from fitdtest import Daemon  # noqa: E402


def main():
    out = os.path.join(os.environ.get("FITD_BENCH_DIR", os.path.join(HERE, "out")), "ensemble_ab")
    budget = int(os.environ.get("BUDGET", "10"))
    q.split(out)
    d = Daemon(args=("--worker-threads", os.environ.get("CORES", "2"),
                     "--reserved-cores", "0")).start()
    c = q.Client("http://127.0.0.1:%d" % d.port)
    try:
        for name, _, target, task, metric in q.tables():
            if name == "large":
                continue
            truth = q.test_truth(out, name, target)
            ds = q.upload(c, out, name)
            line = "%-14s %-8s" % (name, metric)
            for ens in ("auto", False):
                spec = {"dataset": ds, "target": target, "task": task, "metric": metric,
                        "search": {"max_seconds": budget, "seed": 0, "ensemble": ens}}
                res = q.run_job(c, out, name, spec, budget)
                _, job = c.request("GET", "/v1/jobs/" + res["job"])
                line += "  ensemble %-5s %.4f (%s, %.1f s, %d trials)" % (
                    str(ens).lower(), q.score(metric, truth, res["predictions"]),
                    job["best"]["kind"], res["elapsed_s"], res["trials"])
            print(line, flush=True)
    finally:
        d.cleanup()


if __name__ == "__main__":
    main()
