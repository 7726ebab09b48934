"""``make lab`` (issue 16, item 7): it prints the demo accounts, and JupyterLab opens fresh copies
of the notebooks under build/ (here LAB_DIR), so the tracked notebooks never get outputs or a
``.ipynb_checkpoints/`` beside them. JupyterLab itself is replaced by a stand-in (JUPYTER=) that
records how it was started, with the sandbox's variables, and ends.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
STAND_IN = """#!{python}
import json, os, sys
print(json.dumps({{
    "argv": sys.argv[1:],
    "cwd": os.getcwd(),
    "urls": sorted(k for k in os.environ if k.startswith("NBAUTH_") and k.endswith("_URL")),
}}))
"""


def test_make_lab_prints_the_accounts_and_opens_copies_of_the_notebooks(tmp_path):
    stand_in = tmp_path / "jupyter"
    stand_in.write_text(STAND_IN.format(python=sys.executable))
    stand_in.chmod(0o755)
    lab = tmp_path / "lab"
    tracked = {path.name: path.read_bytes() for path in NOTEBOOKS.glob("*.ipynb")}
    bin_ = Path(sys.executable).parent
    variables = {k: v for k, v in os.environ.items() if not k.startswith("NBAUTH_")}
    variables["NBAUTH_SANDBOX_DIR"] = str(tmp_path / "sandbox")
    settings = [f"BIN={bin_}", f"LAB_DIR={lab}", f"JUPYTER={stand_in}"]
    done = subprocess.run(
        ["make", "-s", "-o", f"{bin_}/.installed", "lab", *settings],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=variables,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    started = json.loads(done.stdout.strip().splitlines()[-1])

    # The accounts to type into a form, before the server starts.
    shown = done.stdout + done.stderr
    assert "Demo credentials (sandbox only):" in shown
    for line in ("Couchdrop    alice", "Rocket.Chat  bob", "ioGates      dave"):
        assert line in shown
    assert "ioGates share URLs" in shown

    # JupyterLab got the copy of the quickstart, with the sandbox's variables.
    assert started["argv"][0] == "lab" and started["argv"][-1] == f"{lab}/quickstart.ipynb"
    assert started["urls"] == [f"NBAUTH_{s}_URL" for s in ("COUCHDROP", "IOGATES", "ROCKETCHAT")]
    copies = {path.name: path.read_bytes() for path in lab.glob("*.ipynb")}
    assert copies == tracked
    assert {path.name: path.read_bytes() for path in NOTEBOOKS.glob("*.ipynb")} == tracked


def test_checkpoints_are_ignored_by_git():
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "notebooks/.ipynb_checkpoints/quickstart-checkpoint.ipynb"],
        cwd=ROOT,
    )
    assert ignored.returncode == 0
