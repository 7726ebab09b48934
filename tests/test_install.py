"""Installing for real use (issue 16, item 5): ``make dist`` builds a wheel and an sdist with no
packaging warning, and the wheel, installed into a fresh virtual environment with pip, gives a
working ``%load_ext nbauth`` and ``%login`` in a real IPython there (against this test's
sandbox, whose variables the process gets), importing nbauth from that environment, not from
this checkout.

pip installs the wheel's dependencies from the package index (or its cache), as a person's
``pip install`` would. Without an index to reach, the test skips, or fails when ``CI`` is set.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: What pip says when it cannot reach an index at all (as opposed to a failing install).
OFFLINE = (
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "No matching distribution found",
)


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without NBAUTH_*, PYTHONPATH or the venv it runs in."""
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBAUTH_") and k not in drop}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``make dist``, into a folder of this test's (the Makefile's own prerequisite, the
    development .venv, is taken as made: this runs inside it)."""
    out = tmp_path_factory.mktemp("dist") / "dist"
    bin_ = Path(sys.executable).parent
    done = subprocess.run(
        ["make", "-s", "-o", f"{bin_}/.installed", "dist", f"BIN={bin_}", f"DIST={out}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=clean_env(),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    shown = done.stdout + done.stderr
    assert "Successfully built nbauth-" in shown
    for warning in ("Deprecat", "deprecat", "BuildBackendWarning", "!!"):
        assert warning not in shown, shown[shown.find(warning) - 500 :][:1500]
    return out


def test_make_dist_builds_a_wheel_and_an_sdist_without_warnings(dist):
    names = sorted(path.name for path in dist.iterdir())
    assert names == ["nbauth-0.1.0-py3-none-any.whl", "nbauth-0.1.0.tar.gz"]


def test_the_wheel_installs_into_a_fresh_venv_and_logs_in_there(dist, tmp_path, sandbox):
    home = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(home)
    python = home / "bin" / "python"
    wheel = next(dist.glob("*.whl"))
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(wheel)],
        capture_output=True,
        text=True,
        timeout=900,
        env=clean_env(),
    )
    if installed.returncode and any(sign in installed.stderr for sign in OFFLINE):
        if os.environ.get("CI"):
            pytest.fail(f"pip could not reach a package index:\n{installed.stderr[-2000:]}")
        pytest.skip("pip could not reach a package index to install the wheel's dependencies")
    assert installed.returncode == 0, installed.stderr[-3000:]

    cells = (
        "import nbauth\n"
        "print('nbauth from', nbauth.__file__)\n"
        "%load_ext nbauth\n"
        "%login couchdrop\n"
        "%nbauth sessions\n"
    )
    session = subprocess.run(
        [str(home / "bin" / "ipython"), "--no-banner", "--colors=NoColor", "-c", cells],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,  # not the checkout, whose nbauth/ would be importable from its folder
        env=clean_env(IPYTHONDIR=str(tmp_path / "ipython"), **sandbox.env),
        stdin=subprocess.DEVNULL,
    )
    shown = session.stdout + session.stderr
    assert session.returncode == 0, shown[-3000:]
    assert f"nbauth from {home}/lib/" in shown
    assert f"Logged in to Couchdrop at {sandbox.urls['couchdrop']} as alice" in shown
    assert "Traceback" not in shown and "Error" not in shown
