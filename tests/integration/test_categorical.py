"""A categorical column of 5,000 levels on 100,000 rows, end to end: the
linear families and networks read it as one code per row (a gather of its
one-hot weights), so their trials are admitted in a modest memory budget
and run. A short job restricted to logistic and one restricted to mlp each
complete several trials and score well above chance, and the model's
document lists every level as a one-hot weight."""

import random
import time
import unittest

from fitdtest import DaemonTest, wait_job

ROWS, LEVELS = 100000, 5000


def city_table(seed=5):
    """city (5,000 levels), three numeric columns, and a 0/1 target that
    depends on the city (half of the levels push it up) and on a."""
    rng = random.Random(seed)
    up = [rng.random() < 0.5 for _ in range(LEVELS)]
    lines, ones = ["city,a,b,c,y"], 0
    for _ in range(ROWS):
        city, a = rng.randrange(LEVELS), rng.uniform(-0.5, 0.5)
        t = a + (0.5 if up[city] else -0.5) + rng.uniform(-0.15, 0.15)
        ones += t > 0
        lines.append("k%d,%.4f,%.4f,%.4f,%d" % (city, a, rng.random(), rng.random(), t > 0))
    return ("\n".join(lines) + "\n").encode(), max(ones, ROWS - ones) / ROWS


class WideCategorical(DaemonTest):
    # 64 MiB per trial: the column one-hot encoded as floats would need gigabytes.
    daemon_args = ("--trial-memory-mib", "64", "--worker-threads", "2")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.csv, cls.chance = city_table()

    def run_job(self, space, trials):
        status, _, ds = self.d.upload("cities", self.csv)
        self.assertEqual(status, 201, ds)
        city = [c for c in ds["columns"] if c["name"] == "city"][0]
        self.assertEqual((city["type"], city["n_levels"]), ("categorical", LEVELS))
        t0 = time.time()
        status, _, job = self.d.request("POST", "/v1/jobs", body={
            "dataset": ds["id"], "target": "y", "metric": "accuracy", "space": space,
            "validation": {"method": "holdout", "fraction": 0.2},
            "search": {"algorithm": "random", "max_trials": trials, "seed": 3}})
        self.assertEqual(status, 201, job)
        job = wait_job(self.d, job["id"], timeout=300)
        self.assertEqual(job["state"], "succeeded", job)
        _, _, board = self.d.request("GET", "/v1/jobs/%s/trials?limit=100" % job["id"])
        done = [t for t in board["items"] if t["state"] == "completed"]
        self.assertGreaterEqual(len(done), trials, board)
        self.assertGreater(job["best"]["score"], self.chance + 0.15, job)
        return job, time.time() - t0

    def test_logistic_trials_run_and_learn_the_levels(self):
        job, _ = self.run_job({"models": ["logistic"], "optimizer": ["lbfgs", "newton"],
                               "epochs": 50}, 3)
        status, _, model = self.d.request("GET", "/v1/models/%s" % job["best"]["model_id"])
        self.assertEqual(status, 200, model)
        doc = model if "layers" in model else model["model"]
        city = [c for c in doc["columns"] if c["name"] == "city"][0]
        kept = len(city["levels"]) + bool(city.get("other"))
        self.assertGreater(len(city["levels"]), LEVELS // 2)  # most levels kept (>= 5 rows)
        # the public view: a weight per one-hot feature, the city's block among them
        self.assertEqual(doc["layers"][0]["nin"], kept + 3)  # a, b, c have no missing values

    def test_mlp_trials_run_and_learn_the_levels(self):
        self.run_job({"models": ["mlp"], "optimizer": ["adam"], "epochs": 3,
                      "batch_size": [256], "learning_rate": [0.01],
                      "mlp": {"hidden_layers": [1], "units": [16]}}, 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
