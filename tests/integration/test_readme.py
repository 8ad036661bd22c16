"""The README's walks, run as they are written against a fresh daemon.

The ```sh blocks of the sections named in WALKS are cut into commands
(a command ends where `bash -n` accepts it). They run in order in one bash
with `set -eo pipefail`, from a temporary directory that links the source
tree's tests/, with F set to the daemon's address and FITD to the binary
(the walk's first block defaults them to http://127.0.0.1:8080 and
build/daemon/fitd). Every command must succeed, and its output must match
the shape of the `#` lines under it and of its inline comment (after two
or more spaces): each "key": shown is a key of the real output, each
"key":"value" with no ellipsis is there as shown, each `event: NAME` line
is an event sent, and `CSV: a,b,…` starts the real header."""

import os
import re
import subprocess
import tempfile
import unittest

from fitdtest import FITD, Daemon

# The README sections whose sh blocks are walks, in order.
WALKS = ["A walk with curl", "The client"]

SOURCE = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
README = os.path.join(SOURCE, "README.md")
INLINE = re.compile(r"^(.*\S)\s{2,}# (.*)$")


def sections(text):
    """{heading: body} for every ## and ### heading."""
    out, name = {}, None
    for line in text.splitlines():
        m = re.match(r"^#{2,3} (.*)$", line)
        if m:
            name = m.group(1).strip()
            out[name] = []
        elif name is not None:
            out[name].append(line)
    return out


def sh_blocks(lines):
    blocks, block = [], None
    for line in lines:
        if block is None and line.strip() == "```sh":
            block = []
        elif block is not None and line.strip() == "```":
            blocks.append(block)
            block = None
        elif block is not None:
            block.append(line)
    return blocks


def complete(code):
    return subprocess.run(["bash", "-n"], input=code, capture_output=True,
                          text=True).returncode == 0


def commands(block):
    """[(code, expected)]: each command with the text of its comments."""
    out, pending = [], []
    for line in block:
        if line.startswith("#") and not pending:
            if not out:
                raise ValueError("a comment before any command: " + line)
            out[-1][1].append(line[1:].strip())
            continue
        m = INLINE.match(line)
        code = m.group(1) if m and complete("\n".join(pending + [m.group(1)])) else line
        pending.append(code)
        if complete("\n".join(pending)):
            out.append(("\n".join(pending), [m.group(2)] if m and code != line else []))
            pending = []
    if pending:
        raise ValueError("an unfinished command: " + "\n".join(pending))
    return out


def walk_commands():
    with open(README) as f:
        found = sections(f.read())
    steps = []
    for name in WALKS:
        if name not in found:
            raise ValueError("README.md has no section '%s'" % name)
        blocks = sh_blocks(found[name])
        if not blocks:
            raise ValueError("README section '%s' has no sh block" % name)
        for block in blocks:
            steps.extend(commands(block))
    return steps


def shape_problems(expected, output):
    """What the comment lines show that the real output lacks."""
    text = " ".join(expected)
    problems = []
    for key in re.findall(r'"([A-Za-z_][A-Za-z0-9_]*)":', text):
        if '"%s":' % key not in output:
            problems.append("no key %r" % key)
    for key, value in re.findall(r'"([A-Za-z_][A-Za-z0-9_]*)":"([^"…]*)"', text):
        if '"%s":"%s"' % (key, value) not in output:
            problems.append("no %s=%r" % (key, value))
    for line in expected:
        m = re.match(r"^event: (\S+)$", line)
        if m and "event: %s\n" % m.group(1) not in output:
            problems.append("no event %s" % m.group(1))
        m = re.match(r"^CSV: (.*?),?…", line)
        if m and not output.startswith(m.group(1)):
            problems.append("the CSV header does not start with %s" % m.group(1))
    return problems


class ReadmeWalk(unittest.TestCase):
    def setUp(self):
        self.d = Daemon().start()
        self.tmp = tempfile.TemporaryDirectory(prefix="fitd-readme-")
        os.symlink(os.path.join(SOURCE, "tests"), os.path.join(self.tmp.name, "tests"))

    def tearDown(self):
        self.d.cleanup()
        self.tmp.cleanup()

    def test_extraction(self):
        steps = walk_commands()
        self.assertGreater(len(steps), 10)
        self.assertTrue(any(expected for _, expected in steps))
        code, expected = commands(["curl -s x   # a note", "f() {", "  :", "}", "# {\"a\":1}"])[0]
        self.assertEqual((code, expected), ("curl -s x", ["a note"]))
        self.assertEqual(shape_problems(['{"a":"b","c":…}'], '{"a":"b","c":2}'), [])
        self.assertEqual(shape_problems(['{"a":"b","c":…}'], '{"a":"x"}'),
                         ["no key 'c'", "no a='b'"])

    def test_walk(self):
        steps = walk_commands()
        out = os.path.join(self.tmp.name, "out")
        os.mkdir(out)
        script = ["set -eo pipefail"]
        for i, (code, _) in enumerate(steps):
            script.append("echo %d > %s/current" % (i, out))
            script.append("{\n%s\n} > %s/%d" % (code, out, i))
        env = dict(os.environ, F="http://127.0.0.1:%d" % self.d.port, FITD=os.path.abspath(FITD))
        r = subprocess.run(["bash", "-c", "\n".join(script)], cwd=self.tmp.name, env=env,
                           capture_output=True, text=True, timeout=900)
        if r.returncode != 0:
            with open(out + "/current") as f:
                failed = steps[int(f.read())][0]
            self.fail("exit %d in:\n%s\n%s" % (r.returncode, failed, r.stderr))
        checked = 0
        for i, (code, expected) in enumerate(steps):
            with open("%s/%d" % (out, i)) as f:
                output = f.read()
            if expected:
                problems = shape_problems(expected, output)
                self.assertEqual(problems, [], "%s\ngave:\n%s" % (code, output[:2000]))
                checked += 1
        self.assertGreaterEqual(checked, 8)


if __name__ == "__main__":
    unittest.main(verbosity=2)
