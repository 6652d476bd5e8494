"""Ctrl-C or SIGTERM from the command's first moment: one line on stderr, exit 130, no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

ONE_LINE = "Interrupted before the command started; nothing was changed.\n"


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_a_signal_right_after_the_entry_point_loads_ends_in_one_line(signame):
    # What the `hubspot-metrics` script does first is import its entry point; the signal then
    # arrives before `main` has run, while the CLI would still be loading.
    done = _run("import os, signal, time\n"
                "import hubspot_metrics.__main__\n"
                f"os.kill(os.getpid(), signal.{signame})\n"
                "time.sleep(30)\n")
    assert (done.returncode, done.stdout, done.stderr) == (130, "", ONE_LINE)


def test_ctrl_c_while_click_reads_the_options_ends_in_one_line(tmp_path):
    # click turns a KeyboardInterrupt in its option parsing into "Aborted!" and exit 1.
    done = _run("import os, signal, sys\n"
                "from hubspot_metrics.__main__ import main\n"
                "from hubspot_metrics.cli.root import Group\n"
                "parse = Group.parse_args\n"
                "def interrupted(self, ctx, args):\n"
                "    os.kill(os.getpid(), signal.SIGINT)\n"
                "    return parse(self, ctx, args)\n"
                "Group.parse_args = interrupted\n"
                f"sys.argv = ['hubspot-metrics', '--db', {str(tmp_path / 'store.db')!r}, 'status']\n"
                "main()\n")
    assert (done.returncode, done.stdout, done.stderr) == (130, "", ONE_LINE)
    assert list(tmp_path.iterdir()) == []

