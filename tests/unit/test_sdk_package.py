"""clients/python is a distribution of its own: its wheel holds only the SDK and its crypto,
declares none of the server's dependencies, and works with aio-pika, pymongo and the
server's packages impossible to import."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVER_ONLY = ("aio_pika", "aiormq", "pamqp", "pymongo", "bson", "motor", "shared", "services")

# Run with -I (no cwd, no PYTHON* variables): the installed wheel first on the path, and a
# finder that refuses every server-only module before anything else is imported.
PROBE = """
import sys
BLOCKED = {blocked!r}
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"server-only module {{name}} imported by the SDK")
sys.meta_path.insert(0, Refuse())
sys.path.insert(0, {target!r})
import importlib, pkgutil
import haven_client, haven_crypto
for package in (haven_client, haven_crypto):  # every module, not only what __init__ imports
    for found in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if not found.name.endswith("__main__"):  # that one runs the CLI
            importlib.import_module(found.name)
assert haven_client.__file__.startswith({target!r}), haven_client.__file__
from haven_client.cli import main
code = main(["--help"])
print("exit", code)
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT / "clients" / "python"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    [built] = out.glob("haven_client-*.whl")
    return built


def test_the_wheel_holds_only_the_sdk_and_its_crypto(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top == {"haven_client", "haven_crypto"}
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    requires = [
        line.split(":", 1)[1].strip().lower()
        for line in zipfile.ZipFile(wheel).read(metadata).decode().splitlines()
        if line.startswith("Requires-Dist:")
    ]
    assert not [r for r in requires if r.startswith(("aio-pika", "pymongo", "motor"))]
    assert any(r.startswith("pynacl") for r in requires)
    entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "haven = haven_client.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()


def test_the_installed_sdk_imports_and_runs_without_the_server_packages(
    wheel: Path, tmp_path: Path
) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    probe = PROBE.format(blocked=SERVER_ONLY, target=str(target))
    done = subprocess.run(
        [sys.executable, "-I", "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "Usage: haven" in done.stdout and "chat" in done.stdout
    assert done.stdout.strip().endswith("0")
