"""The demo's portal runs in a child process: it never outlives the demo (however the demo ends),
its failures end in one sentence, and the demo's own process never loads the portal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from hubspot_metrics import app, demo_portal
from hubspot_metrics.cli import cli
from hubspot_metrics.cli.progress import Progress
from hubspot_metrics.errors import HubSpotError
from hubspot_metrics.sync.progress import SilentProgress

SMALL = 50  # contacts: these tests are about the process, not the data


def portal_children(parent: int) -> list[int]:
    """The pids of `parent`'s children that serve a demo portal (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # it ended while we looked
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and demo_portal.CHILD_MODULE.encode() in cmdline:
            found.append(int(entry.name))
    return found


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie waits for a reaper that may never come in a container)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def gone_within(pid: int, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds  # (a bound for a loaded machine, not a speed claim)
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not running(pid)


def wait_for_child(parent: int, seconds: float = 20.0) -> int:
    deadline = time.monotonic() + seconds
    while not (children := portal_children(parent)):
        assert time.monotonic() < deadline, "the demo started no portal process"
        time.sleep(0.01)
    assert len(children) == 1, children
    return children[0]


class WatchingProgress(SilentProgress):
    """Notes the portal's pid when the sync starts its first object, then does `then(pid)`."""

    def __init__(self, then=lambda pid: None):
        self.pids: list[int] = []
        self.then = then

    def start(self, label: str, total: int | None) -> None:
        if not self.pids:
            self.pids = portal_children(os.getpid())
            self.then(*self.pids)


def kill_and_wait(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    assert gone_within(pid)


def test_after_a_demo_its_portal_process_is_gone(tmp_path):
    progress = WatchingProgress()
    app.demo(str(tmp_path / "demo"), scale=SMALL, progress=progress)
    assert len(progress.pids) == 1
    assert not running(progress.pids[0])
    assert portal_children(os.getpid()) == []


def test_a_demo_that_fails_mid_sync_leaves_no_portal_process(tmp_path):
    def fail(pid):
        raise RuntimeError("the listener broke")

    progress = WatchingProgress(then=fail)
    with pytest.raises(RuntimeError, match="the listener broke"):
        app.demo(str(tmp_path / "demo"), scale=SMALL, progress=progress)
    assert len(progress.pids) == 1
    assert not running(progress.pids[0])


def test_a_portal_that_dies_mid_sync_ends_the_demo_in_one_sentence(tmp_path, monkeypatch):
    progress = WatchingProgress(then=kill_and_wait)
    monkeypatch.setattr(Progress, "for_stderr", classmethod(lambda cls: progress))
    folder = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", "--dir", str(folder), "--scale", str(SMALL)])
    assert (result.exit_code, result.output) == (3, (
        f"Generating a simulated HubSpot portal with {SMALL} contacts…\n"
        + next(line for line in result.output.splitlines(keepends=True) if line.startswith("Syncing it from "))
        + "Error: The demo's simulated portal stopped during the sync (it was killed by signal 9); "
          "run the demo again.\n"))
    assert result.output.splitlines()[1].endswith(f" into {folder / 'demo.db'}…")
    assert portal_children(os.getpid()) == []


def test_a_portal_that_cannot_start_is_one_sentence(tmp_path, monkeypatch):
    monkeypatch.setattr(demo_portal, "CHILD_MODULE", "hubspot_metrics.portal.no_such_module")
    result = CliRunner().invoke(cli, ["demo", "--dir", str(tmp_path / "demo"), "--scale", str(SMALL)])
    assert (result.exit_code, result.output) == (3, (
        f"Generating a simulated HubSpot portal with {SMALL} contacts…\n"
        f"Error: The demo's simulated portal did not start (it exited with code 1: {sys.executable}: No module "
        "named hubspot_metrics.portal.no_such_module); fix that and run the demo again.\n"))
    assert not (tmp_path / "demo" / "demo.db").exists()


def test_a_portal_the_generator_refuses_is_one_sentence(tmp_path):
    with pytest.raises(HubSpotError) as raised:
        app.demo(str(tmp_path / "demo"), scale=0)
    assert str(raised.value) == ("The demo's simulated portal did not start (ValueError: scale must be at least 1); "
                                 "fix that and run the demo again.")
    assert portal_children(os.getpid()) == []


def _demo_process(folder: Path, scale: int = SMALL) -> subprocess.Popen:
    """`hubspot-metrics demo` as a user starts it (so the portal is started before the CLI loads),
    in a session of its own so that a Ctrl-C can reach its whole process group as a terminal's does."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUBSPOT_")}
    command = [sys.executable, "-m", "hubspot_metrics", "demo", "--dir", str(folder), "--scale", str(scale)]
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)


def _demo_reaching(tmp_path, when: str) -> tuple[subprocess.Popen, int]:
    """A command-line demo and its portal's pid, once the demo is `when` ("while the portal
    loads": at once; "during the sync": once it says it syncs)."""
    demo = _demo_process(tmp_path / "demo")
    child = wait_for_child(demo.pid)
    if when == "during the sync":
        for line in demo.stderr:
            if line.startswith("Syncing it from "):
                break
        else:
            pytest.fail("the demo never started its sync")
    return demo, child


def test_the_command_lines_demo_leaves_no_portal_process(tmp_path):
    demo = _demo_process(tmp_path / "demo")
    child = wait_for_child(demo.pid)
    out, err = demo.communicate(timeout=120)
    assert demo.returncode == 0, err
    assert out.splitlines()[-1].startswith("Next: hubspot-metrics --db ")
    assert gone_within(child)


@pytest.mark.parametrize("when", ["while the portal loads", "during the sync"])
def test_a_demo_killed_with_sigkill_takes_its_portal_along(tmp_path, when):
    demo, child = _demo_reaching(tmp_path, when)
    demo.kill()
    demo.communicate(timeout=60)
    assert demo.returncode == -signal.SIGKILL  # killed mid-run, not finished
    assert gone_within(child)


@pytest.mark.parametrize("when", ["while the portal loads", "during the sync"])
def test_ctrl_c_is_the_usual_one_line_and_the_portal_goes_too(tmp_path, when):
    demo, child = _demo_reaching(tmp_path, when)
    os.killpg(demo.pid, signal.SIGINT)  # as a terminal does: the portal gets it too, and leaves it to the demo
    out, err = demo.communicate(timeout=60)
    # (while loading, the CLI may or may not have started its command: either line is right)
    expected = ({"Interrupted; what was committed is kept and the next run resumes from it."} if when == "during the sync"
                else {"Interrupted before the command started; nothing was changed.",
                      "Interrupted; what was committed is kept and the next run resumes from it."})
    assert (demo.returncode, err.splitlines()[-1] in expected) == (130, True), err
    assert "Traceback" not in err
    assert gone_within(child)


def test_the_demos_own_process_never_loads_the_portal(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        from hubspot_metrics.cli import cli
        cli(["demo", "--dir", {str(tmp_path / "demo")!r}, "--scale", "{SMALL}"], standalone_mode=False)
        print(sorted(m for m in sys.modules if m.split(".")[0] == "numpy" or m.startswith("hubspot_metrics.portal")))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    # (portal.cli is the `sandbox` command's, registered with the others; it loads neither numpy nor the generator)
    assert done.stdout.splitlines()[-1] == "['hubspot_metrics.portal', 'hubspot_metrics.portal.cli']"
