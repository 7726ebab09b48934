"""`make demo`: the quickstart runs headless against a fresh sandbox, its tables reach the
terminal, and the executed notebook and its HTML copy are kept, with no password in them."""

from __future__ import annotations

import re
import subprocess
import sys

from nbauth.sandbox import Seed


def test_demo_prints_the_tables_and_keeps_the_executed_notebook(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "nbauth.sandbox.demo", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    # No warning on the way: ipykernel's about a TCP kernel without encryption (the demo's
    # kernel talks over IPC instead).
    assert "WARNING" not in result.stderr and "over TCP" not in result.stderr, result.stderr
    printed = result.stdout
    for title in ("Couchdrop", "Rocket.Chat", "ioGates"):
        assert f"Logged in to {title}" in printed
    # a profile and a storage card per login, as text (and %whoami's profile card)
    assert printed.count("Profile:") == 4 and printed.count("Storage:") == 3
    assert re.search(r"\n  account\.email_address +alice@example\.org\n", printed)  # no index
    assert "available_storage" in printed

    saved = (tmp_path / "quickstart.ipynb").read_text()
    html = (tmp_path / "quickstart.html").read_text()
    assert "Logged in to ioGates" in saved and "<table" in html
    passwords = [user.password for users in Seed.demo().users.values() for user in users.values()]
    assert not [p for p in passwords if p in saved or p in html or p in printed]
