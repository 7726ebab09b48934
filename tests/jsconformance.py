"""Rocket.Chat's own JavaScript packages, installed for the conformance tests.

The npm project lives in tests/js/ (package.json and package-lock.json, pinned; TypeScript
sources in src/) and is installed into build/js/, never into the source tree: `npm ci` runs
only when the lock file, package.json or Node's version changed, and the sources are
type-checked (`tsc --strict`) and bundled with esbuild (`dist/*.cjs`; @rocket.chat/rest-typings
cannot be loaded by plain Node, see docs/conformance.md) only when they changed. A file lock
keeps two test runs in one checkout from installing at once.

Without Node or npm the tests skip, or fail when CI is set (the rule of tests/browser.py). An
npm registry that cannot be reached always fails, with the reason: the suite was meant to run.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "tests" / "js"
BUILD = ROOT / "build" / "js"
#: What is copied from tests/js to build/js before each build.
PROJECT_FILES = ("package.json", "package-lock.json", "tsconfig.json")
#: The scripts bundled for Node, from src/<name>.ts to dist/<name>.cjs.
SCRIPTS = ("official_client", "validate")
#: RestClient needs fetch, Response and FormData as globals.
MIN_NODE = 18
INSTALL_TIMEOUT = 600.0
BUILD_TIMEOUT = 300.0
TSC = "node_modules/typescript/bin/tsc"
#: What npm prints when it cannot reach the registry.
OFFLINE = re.compile(
    r"ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|"
    r"network|socket hang up|request to \S+ failed",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class NodeProject:
    """The installed project: where it is and the Node that runs it."""

    node: str
    directory: Path
    #: Seconds each step of the last preparation took ("npm ci", "tsc", "esbuild"); a step
    #: that was not needed is missing.
    timings: Mapping[str, float]

    def run(self, script: str, payload: Any, timeout: float = 120.0) -> Any:
        """Runs dist/<script>.cjs with `payload` as JSON on stdin; returns its JSON output."""
        result = subprocess.run(
            [self.node, str(self.directory / "dist" / f"{script}.cjs")],
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.directory,
            check=False,
        )
        if result.returncode != 0:
            pytest.fail(
                f"node {script}.cjs exited {result.returncode}:\n{result.stderr[-4000:]}",
                pytrace=False,
            )
        return json.loads(result.stdout)

    def tsc(self, project: Path) -> subprocess.CompletedProcess[str]:
        """`tsc -p project` with the installed TypeScript (the project says --noEmit)."""
        return subprocess.run(
            [
                self.node,
                str(self.directory / "node_modules/typescript/bin/tsc"),
                "-p",
                str(project),
            ],
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT,
            cwd=self.directory,
            check=False,
        )


def missing(message: str) -> NoReturn:
    """Skip, or fail when CI is set: in CI a Node that went missing must not turn the
    conformance suite into skips."""
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"CI is set, so the conformance tests must run, but {message}", pytrace=False)
    pytest.skip(message)


def find_node() -> tuple[str, str]:
    """(node, npm), at least Node `MIN_NODE`; else `missing`."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing(
            "Node.js and npm were not found (the conformance suite runs Rocket.Chat's official "
            f"JavaScript client): install Node {MIN_NODE} or later, e.g. apt-get install nodejs npm"
        )
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    major = re.match(r"v(\d+)\.", version)
    if major is None or int(major.group(1)) < MIN_NODE:
        missing(f"Node {version or '(unknown version)'} is too old: {MIN_NODE} or later is needed")
    return node, npm


def prepare(env: Mapping[str, str] | None = None, build: Path = BUILD) -> NodeProject:
    """Installs (if needed) and builds (if needed) tests/js into `build`.

    `env` replaces the environment of npm (a test points npm at a dead registry with it)."""
    node, npm = find_node()
    build.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    with _locked(build / ".lock"):
        for name in PROJECT_FILES:
            _copy(SOURCE / name, build / name)
        _sync_sources(build)
        node_version = subprocess.run(
            [node, "--version"], capture_output=True, text=True, check=False
        ).stdout
        installed = _digest(
            [build / "package.json", build / "package-lock.json"], extra=node_version
        )
        stamp = build / "node_modules" / ".nbauth-installed"
        if not stamp.exists() or stamp.read_text() != installed:
            started = time.perf_counter()
            _npm_ci(npm, build, env)
            timings["npm ci"] = time.perf_counter() - started
            stamp.write_text(installed)
        sources = sorted((build / "src").glob("*.ts"))
        built = _digest([build / "tsconfig.json", *sources], extra=installed)
        built_stamp = build / "dist" / ".nbauth-built"
        if not built_stamp.exists() or built_stamp.read_text() != built:
            project = NodeProject(node, build, timings)
            started = time.perf_counter()
            checked = project.tsc(build / "tsconfig.json")
            timings["tsc"] = time.perf_counter() - started
            if checked.returncode != 0:
                pytest.fail(
                    "tests/js/src does not type-check against Rocket.Chat's types "
                    f"(tsc --strict):\n{checked.stdout[-6000:]}{checked.stderr[-2000:]}",
                    pytrace=False,
                )
            started = time.perf_counter()
            _bundle(node, build)
            timings["esbuild"] = time.perf_counter() - started
            built_stamp.write_text(built)
    return NodeProject(node, build, timings)


def _npm_ci(npm: str, build: Path, env: Mapping[str, str] | None) -> None:
    environment = dict(os.environ if env is None else env)
    environment.setdefault("npm_config_update_notifier", "false")
    command = [
        npm,
        "ci",
        "--no-audit",
        "--no-fund",
        # esbuild's postinstall only checks its binary, which comes as @esbuild/<platform>
        "--ignore-scripts",
        "--prefer-offline",
        "--loglevel=error",
    ]
    try:
        result = subprocess.run(
            command,
            cwd=build,
            env=environment,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"npm ci in {build} took over {INSTALL_TIMEOUT:.0f} s: is the npm registry "
            "reachable? The conformance suite installs Rocket.Chat's packages from it.",
            pytrace=False,
        )
    if result.returncode == 0:
        return
    output = (result.stdout + result.stderr)[-4000:]
    registry = environment.get("npm_config_registry") or "the npm registry"
    if OFFLINE.search(output):
        pytest.fail(
            f"npm could not reach {registry} to install Rocket.Chat's packages "
            f"(tests/js/package-lock.json) into {build}. The conformance suite needs the "
            f"registry once, to fill build/js/ (later runs reuse it). npm said:\n{output}",
            pytrace=False,
        )
    pytest.fail(f"npm ci in {build} failed (exit {result.returncode}):\n{output}", pytrace=False)


def _bundle(node: str, build: Path) -> None:
    esbuild = build / "node_modules" / "esbuild" / "bin" / "esbuild"
    for script in SCRIPTS:
        result = subprocess.run(
            [
                node,
                str(esbuild),
                str(build / "src" / f"{script}.ts"),
                "--bundle",
                "--platform=node",
                "--format=cjs",
                "--log-level=warning",
                f"--outfile={build / 'dist' / f'{script}.cjs'}",
            ],
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT,
            cwd=build,
            check=False,
        )
        if result.returncode != 0:
            pytest.fail(f"esbuild {script}.ts failed:\n{result.stderr[-4000:]}", pytrace=False)


def _sync_sources(build: Path) -> None:
    """build/src mirrors tests/js/src: new and changed files copied, removed ones removed."""
    target = build / "src"
    target.mkdir(exist_ok=True)
    wanted = {path.name for path in (SOURCE / "src").glob("*.ts")}
    for path in target.glob("*.ts"):
        if path.name not in wanted:
            path.unlink()
    for name in wanted:
        _copy(SOURCE / "src" / name, target / name)


def _copy(source: Path, target: Path) -> None:
    data = source.read_bytes()
    if not target.exists() or target.read_bytes() != data:
        target.write_bytes(data)


def _digest(paths: list[Path], extra: str = "") -> str:
    digest = hashlib.sha256(extra.encode())
    for path in paths:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
