"""An admin's install from a wheel: the wheel carries the hook's sources (and no build output),
and in a fresh venv made from it `kea-fanvil hook build` builds under that venv's own prefix
(never in site-packages), `hook install` puts the build in Kea's hooks directory and Kea loads it.

The wheel is built with build isolation (setuptools>=77 comes from the configured pip index:
the dev venv's setuptools may be older than the `license = "MPL-2.0"` of pyproject.toml needs),
and the fresh venv gets the wheel's dependencies from that index as pip normally would. The
install step replaces the machine's hook: the test puts the previous bytes back afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HOOK_SRC = ROOT / "kea_fanvil" / "kea_hook" / "src"
KEA_HOOKS_HEADER = Path("/usr/include/kea/hooks/hooks.h")
SYSTEM_PYTHON = Path("/usr/bin/python3")
KEA_DHCP4 = shutil.which("kea-dhcp4", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
POLICY = """\
version: 1
provisioning:
  url: "http://prov.example.com/fanvil/$mac.cfg"
"""

pytestmark = pytest.mark.wheel


def _env() -> dict[str, str]:
    """The environment without anything that would put another tree or venv on sys.path."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV"}
    }
    env["PYTHONNOUSERSITE"] = "1"
    env["PIP_NO_INPUT"] = "1"
    return env


def _run(argv: list[str | Path], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _ok(argv: list[str | Path], cwd: Path, timeout: float = 300) -> str:
    done = _run(argv, cwd, timeout)
    assert done.returncode == 0, (
        f"{' '.join(map(str, argv))} exited with {done.returncode}:\n{done.stdout}\n{done.stderr}"
    )
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of this tree, as `pip wheel` builds it (in the tree: setuptools' build/ and
    kea_fanvil.egg-info, both ignored by git)."""
    out = tmp_path_factory.mktemp("wheel")
    _ok(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, ROOT],
        cwd=out,
        timeout=600,
    )
    (found,) = out.glob("kea_fanvil-*.whl")
    return found


def test_wheel_ships_the_hook_sources_and_no_build_output(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {n.removeprefix("kea_fanvil/kea_hook/src/") for n in names if "/src/" in n}
    sources = {
        p.name
        for p in HOOK_SRC.iterdir()
        if p.is_file() and (p.name == "Makefile" or p.suffix in {".cc", ".h", ".mes", ".mk"})
    }
    assert shipped == sources
    assert {"Makefile", "fanvil_messages.mes", "python_bridge.cc"} <= shipped
    built = [n for n in names if n.endswith((".o", ".so", ".d", ".stamp")) or "/build/" in n]
    assert built == []
    assert "kea_fanvil/py.typed" in names
    assert "kea_fanvil/data/fanvil_mac_prefixes.txt" in names
    # Only modules of this tree: a stale module left in setuptools' build/lib would show here.
    modules = [n for n in names if n.endswith(".py")]
    assert modules and all((ROOT / n).is_file() for n in modules)
    top_level = next(n for n in names if n.endswith(".dist-info/top_level.txt"))
    assert zipfile.ZipFile(wheel).read(top_level).decode().split() == ["kea_fanvil"]


@contextlib.contextmanager
def _kept(target: Path) -> Iterator[None]:
    """Put `target` (Kea's copy of the hook) back as it was afterwards: bytes, mode and owner,
    replaced atomically, or removed if there was none."""
    saved = target.read_bytes() if target.is_file() else None
    info = target.stat() if saved is not None else None
    try:
        yield
    finally:
        if saved is None or info is None:
            target.unlink(missing_ok=True)
        else:
            fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(saved)
                os.chmod(name, stat.S_IMODE(info.st_mode))
                os.chown(name, info.st_uid, info.st_gid)
                os.replace(name, target)
            except BaseException:
                Path(name).unlink(missing_ok=True)
                raise


def _start_kea(kea_dhcp4: str, config: Path, tmp_path: Path) -> str:
    """Run kea-dhcp4 -c CONFIG (no interfaces: it opens no socket) until it has started or
    given up, stop it, and return its log."""
    log = tmp_path / "kea-dhcp4.out"
    env = {**_env(), "KEA_LOCKFILE_DIR": str(tmp_path), "KEA_PIDFILE_DIR": str(tmp_path)}
    with log.open("w") as out:
        kea = subprocess.Popen(
            [kea_dhcp4, "-c", str(config)], cwd=tmp_path, env=env, stdout=out, stderr=out
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and kea.poll() is None:
                if "DHCP4_STARTED" in log.read_text():
                    break
                time.sleep(0.1)
        finally:
            kea.terminate()
            try:
                kea.wait(timeout=30)
            except subprocess.TimeoutExpired:
                kea.kill()
                kea.wait()
    return log.read_text()


def test_hook_from_the_wheel_builds_in_its_venv_installs_and_loads(
    wheel: Path, tmp_path: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("installing the hook into Kea's hooks directory needs root")
    if not KEA_HOOKS_HEADER.is_file():
        pytest.skip(f"{KEA_HOOKS_HEADER} is missing: the hook cannot be built (install kea-dev)")

    assert KEA_DHCP4 is not None, "kea-dev is installed but not kea-dhcp4: install kea-dhcp4-server"

    venv = tmp_path / "venv"
    _ok([SYSTEM_PYTHON, "-m", "venv", venv], cwd=tmp_path)
    python, cli = venv / "bin" / "python", venv / "bin" / "kea-fanvil"
    _ok([python, "-m", "pip", "install", "-q", wheel], cwd=tmp_path, timeout=900)

    where = _ok(
        [python, "-c", "import kea_fanvil, sys; print(kea_fanvil.__file__); print(sys.prefix)"],
        cwd=tmp_path,
    ).split()
    package, prefix = Path(where[0]).resolve().parent, Path(where[1]).resolve()
    assert prefix == venv.resolve()
    assert package.is_relative_to(prefix / "lib"), package
    assert not package.is_relative_to(ROOT), package
    shipped_src = package / "kea_hook" / "src"
    before = sorted(p.relative_to(shipped_src) for p in shipped_src.rglob("*"))
    assert Path("Makefile") in before

    _ok([cli, "hook", "build", "--quiet"], cwd=tmp_path, timeout=600)
    library = Path(_ok([cli, "hook", "path"], cwd=tmp_path).strip())
    assert library.resolve() == prefix / "lib" / "kea-fanvil" / "hook" / "libdhcp_fanvil.so"
    assert library.is_file()
    # The sources were only read: nothing was built beside them in site-packages.
    assert sorted(p.relative_to(shipped_src) for p in shipped_src.rglob("*")) == before
    # The library embeds this venv's interpreter (the hook's default `python` parameter).
    assert f"{venv / 'bin' / 'python'}\0".encode() in library.read_bytes()

    # Where `hook install` of this venv writes: the hooks directory `kea-dhcp4 -W` names.
    ask = "from kea_fanvil import kea_install as k; print(k.installed().hook_path)"
    target = Path(_ok([python, "-c", ask], cwd=tmp_path).strip())
    with _kept(target):
        _ok([cli, "hook", "install", "--quiet"], cwd=tmp_path)
        assert _ok([cli, "hook", "path", "--installed"], cwd=tmp_path).strip() == str(target)
        assert target.read_bytes() == library.read_bytes()
        assert stat.S_IMODE(target.stat().st_mode) == 0o644

        # Kea takes it: -t opens the library and checks its Kea version...
        policy = tmp_path / "policy.yaml"
        policy.write_text(POLICY)
        _ok([cli, "validate", policy], cwd=tmp_path)
        hook = {
            "library": str(target),
            "parameters": {"policy": str(policy), "inventory": str(tmp_path / "phones.db")},
        }
        config = tmp_path / "kea-dhcp4.json"
        # No interfaces (no socket is opened), leases in memory only, logs on stdout: no file
        # that Kea 2.6.3 and later want in their own folders; the hook is in the hooks
        # directory, where they load hooks from.
        config.write_text(
            json.dumps(
                {
                    "Dhcp4": {
                        "interfaces-config": {"interfaces": []},
                        "lease-database": {"type": "memfile", "persist": False},
                        "hooks-libraries": [hook],
                    }
                }
            )
        )
        checked = _run([KEA_DHCP4, "-t", config], cwd=tmp_path, timeout=60)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        # ...and a start runs its load(): the policy, through this venv's Python and package.
        log = _start_kea(KEA_DHCP4, config, tmp_path)
        loaded = f"FANVIL_LOADED Fanvil hooks library loaded policy {policy} with Python {python}"
        assert loaded in log, log
        assert "DHCP4_STARTED" in log, log
