"""The README's runnable example runs as written."""

import contextlib
import io
import re
from pathlib import Path

import nbauth

README = Path(__file__).resolve().parents[1] / "README.md"


def example_block():
    text = README.read_text()
    section = text.split("### A real example per service, against the sandbox", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_example_per_service_runs():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(example_block(), str(README), "exec"), {})
    printed = out.getvalue()
    assert "q3.csv" in printed  # Couchdrop: the file listing
    assert "bob" in printed  # Rocket.Chat: the two-factor user's profile
    assert "unlimited" in printed  # ioGates: max_file_size 0
    assert printed.count("********") == 3  # the session table, tokens masked


def notebook_block():
    section = README.read_text().split("## In a notebook", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_notebook_session_runs(ip, sandbox, monkeypatch):
    for name, value in sandbox.env.items():
        monkeypatch.setenv(name, value)
    seen = []
    for line in notebook_block().splitlines():
        result = ip.run_cell(line.split("  #")[0], store_history=True)
        assert result.success, (line, result.error_in_exec)
        seen.append(result.result)
    services = [s.service for s in seen if isinstance(s, nbauth.Session)]
    assert services == ["couchdrop", "rocketchat", "iogates"]
    sessions = next(r for r in seen if getattr(r, "columns", None) is not None and "alias" in r)
    assert list(sessions["alias"]) == ["couchdrop", "chat", "iogates"]
    assert nbauth.sessions().empty  # %logout --all
