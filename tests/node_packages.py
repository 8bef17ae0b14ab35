"""The Node.js tools some tests run (package.json): installed from the committed lockfile when missing, and
the Node 22 binary of the `node` npm package (Immich's CLI needs Node 22; the system's may be older)."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / "node_modules"
NODE_22 = NODE_MODULES / "node" / "bin" / "node"


def ensure_node_modules(*packages: str) -> None:
    """`npm ci` when node_modules lacks one of these packages (fresh clone, CI)."""
    if all((NODE_MODULES / package / "package.json").exists() for package in packages):
        return
    if not shutil.which("npm"):
        pytest.fail("These tests need Node.js and npm (apt-get install -y nodejs npm), then `npm ci`.")
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=ROOT, check=True)


def node_22() -> str:
    """The Node 22 binary installed by the `node` npm package."""
    ensure_node_modules("node", "@immich/cli", "@immich/sdk")
    if not NODE_22.exists():
        pytest.fail(f"{NODE_22} is missing: the `node` package's install script did not run (npm ci).")
    return str(NODE_22)
