"""OpenMP's wait policy: with neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT in
its environment, fitd restarts itself (same process id) with
GOMP_SPINCOUNT=10000 (a short spin, then sleep) before libgomp reads it; a policy or spin count the
user set is left as it is. The environment a process started with is read
from /proc/PID/environ, which an exec replaces."""

import os
import unittest

from fitdtest import Daemon


def start_environ(env):
    """The environment fitd runs with, started with env added to ours."""
    d = Daemon(env=env)
    d.start()
    try:
        with open("/proc/%d/environ" % d.proc.pid, "rb") as f:
            items = f.read().split(b"\0")
        return dict(i.decode().split("=", 1) for i in items if b"=" in i)
    finally:
        d.stop()


class WaitPolicy(unittest.TestCase):
    def setUp(self):
        for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
            os.environ.pop(k, None)

    def test_default_is_a_short_spin(self):
        env = start_environ({"FITD_WAIT_TEST": "1"})
        self.assertEqual(env.get("GOMP_SPINCOUNT"), "10000")
        self.assertNotIn("OMP_WAIT_POLICY", env)
        self.assertEqual(env.get("FITD_WAIT_TEST"), "1")  # the rest is kept

    def test_user_policy_wins(self):
        env = start_environ({"OMP_WAIT_POLICY": "active"})
        self.assertEqual(env.get("OMP_WAIT_POLICY"), "active")

    def test_user_spin_count_wins(self):
        env = start_environ({"GOMP_SPINCOUNT": "200"})
        self.assertNotIn("OMP_WAIT_POLICY", env)
        self.assertEqual(env.get("GOMP_SPINCOUNT"), "200")


if __name__ == "__main__":
    unittest.main()
