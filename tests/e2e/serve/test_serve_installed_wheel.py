"""The package a user installs is what runs: the built wheel, without extras, in a fresh venv.

The test builds the wheel from this checkout (``pip wheel --no-deps --no-build-isolation``, with
the hatchling of the dev extra, so nothing is fetched), creates a venv WITHOUT system site
packages, installs the wheel there, and runs ``wplambda init``, ``wplambda serve`` and
``wplambda wp --local`` from that venv alone. serve's runtime processes are that venv's
``python -m awslambdaric``, so a runtime dependency missing from ``[project.dependencies]`` fails
here (awslambdaric was once only in the dev extra).

Where the dependencies come from, offline: pip must resolve the wheel's ``Requires-Dist`` from
somewhere, and the tests may not reach the internet. The dependencies' wheels are re-packed from
the distributions installed in the venv running the tests (each one's RECORD lists its files;
scripts outside site-packages are left to pip, which writes them again from entry_points.txt),
for exactly the closure of the wheel's own requirements without extras, and pip installs with
``--no-index --find-links`` on that folder and no pip config at all. So pip resolves the declared
requirements and nothing else: a requirement that is not declared is not installed, and one that
is declared but absent here fails the install. The versions are the ones the test suite runs
with, not the newest on PyPI: that is the one thing this test does not prove.
"""

from __future__ import annotations

import email.parser
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.helpers import REPO, real_wp_cli
from tests.support.ports import free_port
from tests.support.serve import ADMIN_PASSWORD, fetch, title_of
from tests.support.wp_cli import set_key
from wp_lambda.runtime.contract import LOCAL_ENV

pytestmark = pytest.mark.slow



def _requires(lines: list[str], extras: frozenset[str]) -> Iterator[Requirement]:
    for line in lines:
        requirement = Requirement(line)
        if requirement.marker is None or any(requirement.marker.evaluate({"extra": extra})
                                             for extra in {"", *extras}):
            yield requirement


def wheel_requirements(wheel: Path) -> list[str]:
    """The ``Requires-Dist`` lines of a built wheel (what pip will resolve)."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.Parser().parsestr(archive.read(name).decode()).get_all("Requires-Dist") or []


def dependency_closure(requirements: list[str]) -> list[metadata.Distribution]:
    """The installed distributions ``requirements`` need, without extras (a dependency's extras
    when a requirement asks for them)."""
    found: dict[str, metadata.Distribution] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(r.name, frozenset(r.extras)) for r in _requires(requirements, frozenset())]
    while todo:
        name, extras = todo.pop()
        if (canonicalize_name(name), extras) in seen:
            continue
        seen.add((canonicalize_name(name), extras))
        dist = found.setdefault(canonicalize_name(name), metadata.distribution(name))
        todo += [(r.name, frozenset(r.extras)) for r in _requires(dist.requires or [], extras)]
    return list(found.values())


def repack(dist: metadata.Distribution, dest: Path) -> Path:
    """A wheel of an installed distribution: its files under site-packages, named by its own tag."""
    files = dist.files
    if files is None:
        pytest.fail(f"{dist.metadata['Name']} has no RECORD: it cannot be re-packed")
    info = next(f for f in files if f.name == "WHEEL" and f.parent.name.endswith(".dist-info"))
    tags = [line.split(":", 1)[1].strip().split("-") for line in dist.locate_file(info).read_text().splitlines()
            if line.startswith("Tag:")]
    # Several tags (py2-none-any, py3-none-any) compress to one name (py2.py3-none-any).
    tag = "-".join(".".join(dict.fromkeys(parts)) for parts in zip(*tags, strict=True))
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"])
    wheel = dest / f"{name}-{dist.version}-{tag}.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for file in files:
            path = Path(str(dist.locate_file(file)))
            if file.parts[0] == ".." or "__pycache__" in file.parts or not path.is_file():
                continue
            archive.write(path, file.as_posix())
    return wheel


def run(*argv: str | Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout, env=env,
                            check=False)
    assert result.returncode == 0, f"{argv}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` folder of a fresh venv holding only the wheel and its declared dependencies."""
    work = tmp_path_factory.mktemp("wheel")
    dist, wheelhouse, venv = work / "dist", work / "wheelhouse", work / "venv"
    wheelhouse.mkdir()
    offline = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    for name in ("PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CONSTRAINT"):
        offline.pop(name, None)
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", dist, REPO, env=offline)
    (wheel,) = dist.glob("wplambda-*.whl")
    for dependency in dependency_closure(wheel_requirements(wheel)):
        repack(dependency, wheelhouse)
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    assert "include-system-site-packages = false" in (venv / "pyvenv.cfg").read_text()
    # The venv has no pip of its own (nothing to fetch it from): this pip installs into it.
    run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q", "--no-index",
        "--find-links", wheelhouse, wheel, env=offline)
    return venv / "bin"


def test_the_wheel_installs_without_the_dev_extra(installed: Path) -> None:
    listed = run(installed / "python", "-c", "import importlib.metadata as m; "
                 "print('\\n'.join(sorted(d.metadata['Name'].lower() for d in m.distributions())))").split()
    assert "awslambdaric" in listed and "wplambda" in listed
    assert not {"pytest", "moto", "playwright", "hypothesis", "ruff"} & set(listed)
    assert "awslambdaric: " in run(installed / "wplambda", "doctor")


def test_serve_and_wp_local_run_from_the_installed_package(installed: Path, tmp_path: Path,
                                                           debian_wordpress: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", LOCAL_ENV)}
    env["PATH"] = f"{installed}{os.pathsep}{env.get('PATH', '')}"
    project = tmp_path / "site"
    run(installed / "wplambda", "init", project, "--yes", "--name", "wheel", "--wordpress-source", debian_wordpress,
        env=env)
    set_key(project, "build", "wp_cli", f'"{real_wp_cli()}"')
    port = free_port()
    serve = subprocess.Popen([str(installed / "wplambda"), "serve", "--project", str(project), "--port", str(port),
                              "--install", "--admin-password", ADMIN_PASSWORD, "--workers", "1"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**env, "COLUMNS": "200"})
    output: list[str] = []
    try:
        assert serve.stdout is not None
        for line in serve.stdout:
            output.append(line)
            if "Ctrl-C stops everything" in line:
                break
        else:
            pytest.fail("serve from the wheel did not start:\n" + "".join(output))
        status, _, body = fetch(f"http://127.0.0.1:{port}/")
        assert status == 200 and title_of(body), body[:500]
        # Through the running serve's console function, under the wheel's awslambdaric.
        assert run(installed / "wplambda", "wp", "--local", "--project", project, "--", "option", "get", "siteurl",
                   env=env).strip() == f"http://127.0.0.1:{port}"
    finally:
        serve.terminate()
        serve.wait(timeout=60)
    # No serve now: wp --local starts the console function itself, from the wheel.
    assert run(installed / "wplambda", "wp", "--local", "--project", project, "--", "option", "get", "blogname",
               env=env).strip()
