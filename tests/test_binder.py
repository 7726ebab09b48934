"""`binder/start`, which Binder and `make lab` run in front of the notebook server: it starts the
sandbox, exports its variables, and becomes the command it was given."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

START = Path(__file__).resolve().parents[1] / "binder" / "start"
REPORT = """
import json, os, httpx
urls = {k: v for k, v in os.environ.items() if k.startswith("NBAUTH_") and k.endswith("_URL")}
print(json.dumps({
    "pid": os.getpid(),
    "urls": urls,
    "answers": {k: httpx.get(v + "/_sandbox/knobs").status_code for k, v in urls.items()},
    "username": os.environ["NBAUTH_COUCHDROP_USERNAME"],
    "sandbox": os.environ["NBAUTH_SANDBOX"],
}))
"""


def start(*command: str, tmp: Path, **env: str) -> subprocess.Popen[str]:
    variables = {k: v for k, v in os.environ.items() if not k.startswith("NBAUTH_")}
    variables.update({"PYTHON": sys.executable, "NBAUTH_SANDBOX_DIR": str(tmp), **env})
    return subprocess.Popen(
        [str(START), *command],
        env=variables,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def refused(url: str) -> bool:
    try:
        httpx.get(url, timeout=1)
    except httpx.ConnectError:
        return True
    return False


def test_start_runs_the_sandbox_exports_its_urls_and_execs_the_command(tmp_path):
    process = start(sys.executable, "-c", REPORT, tmp=tmp_path)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    report = json.loads(out)

    assert report["pid"] == process.pid  # exec'd: the command is the process Binder started
    assert sorted(report["urls"]) == [
        f"NBAUTH_{s}_URL" for s in ("COUCHDROP", "IOGATES", "ROCKETCHAT")
    ]
    assert all(url.startswith("http://127.0.0.1:") for url in report["urls"].values())
    assert set(report["answers"].values()) == {200}
    assert report["username"] == "alice" and report["sandbox"] == "1"
    assert "nbauth sandbox ready" in err
    assert "Sandbox ready." in (tmp_path / "sandbox.log").read_text()

    deadline = time.monotonic() + 10  # and the sandbox ends with the command
    while not all(refused(url) for url in report["urls"].values()):
        assert time.monotonic() < deadline, "the sandbox outlived the command"
        time.sleep(0.2)


def test_start_without_a_command_says_how_to_use_it(tmp_path):
    process = start(tmp=tmp_path)
    _, err = process.communicate(timeout=10)
    assert process.returncode == 2
    assert "usage: binder/start COMMAND" in err


def test_start_fails_fast_with_the_log_when_the_sandbox_cannot_start(tmp_path):
    process = start(
        "true",
        tmp=tmp_path,
        PYTHON=sys.executable + "-missing-module-check",
    )
    _, err = process.communicate(timeout=30)
    assert process.returncode != 0
    assert "sandbox did not start" in err
