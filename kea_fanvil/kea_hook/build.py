"""Build the C++ Kea hook library (kea_hook/src/) against the installed Kea and this Python.

The library embeds the interpreter running this module: its path becomes the hook's default
`python` parameter, and its libpython is the one linked in, so the hook runs the same venv.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

from kea_fanvil import kea_install
from kea_fanvil.errors import HookBuildError, KeaNotFound

__all__ = ["HookBuildError", "build", "install", "installed_path", "library_path"]

# The sources; the build only reads them (they may lie in a read-only or shared site-packages).
HOOK_DIR = Path(__file__).resolve().parent / "src"
# The library embeds the interpreter that builds it (its path and its libpython), so its build
# belongs to that interpreter: under its data prefix (a venv's own folder; /usr/local for
# Debian's system Python, never /usr, which dpkg owns), never in the site-packages the sources
# came from, which a distro may own and other interpreters share.
BUILD_DIR = Path(sysconfig.get_path("data")) / "lib" / "kea-fanvil" / "hook"
LIBRARY = BUILD_DIR / kea_install.HOOK_LIBRARY_NAME
# Characters make cannot take in a target's path (BUILD_DIR is one, and names the others).
_MAKE_UNSAFE = frozenset(" \t\n:;#$%=\\\"'")
KEA_HOOKS_HEADER = Path("/usr/include/kea/hooks/hooks.h")
# Kea's headers include Boost, but Debian's kea-dev does not depend on libboost-dev.
BOOST_HEADER = Path("/usr/include/boost/shared_ptr.hpp")


def _python_vars() -> dict[str, str]:
    """The make variables that point the build at this interpreter's libpython."""
    names = {"PY_INCLUDE": "INCLUDEPY", "PY_LIBDIR": "LIBDIR", "PY_LDLIBRARY": "LDLIBRARY"}
    found = {var: str(sysconfig.get_config_var(name) or "") for var, name in names.items()}
    missing = [names[var] for var, value in found.items() if not value]
    if missing:
        raise HookBuildError(f"{sys.executable}: sysconfig lacks {', '.join(missing)}")
    if not found["PY_LDLIBRARY"].endswith(".so"):
        # A static libpython (pyenv, some builds) cannot be embedded in a shared hook library.
        raise HookBuildError(
            f"{sys.executable} has no shared libpython ({found['PY_LDLIBRARY']}); "
            "use a venv made from Debian's /usr/bin/python3 with libpython3-dev installed"
        )
    if not (Path(found["PY_INCLUDE"]) / "Python.h").is_file():
        raise HookBuildError(f"{found['PY_INCLUDE']}/Python.h is missing: install python3-dev")
    return found


def build(quiet: bool = False) -> Path:
    """Run make on kea_hook/src/ into BUILD_DIR and return the built library; raise
    HookBuildError on failure."""
    if not KEA_HOOKS_HEADER.is_file():
        raise HookBuildError(f"{KEA_HOOKS_HEADER} is missing: install Debian's kea-dev")
    if not BOOST_HEADER.is_file():
        raise HookBuildError(
            f"{BOOST_HEADER} is missing: install Debian's libboost-dev (Kea's headers need it)"
        )
    if not (HOOK_DIR / "Makefile").is_file():
        raise HookBuildError(f"hook sources not found in {HOOK_DIR}")
    if _MAKE_UNSAFE.intersection(str(BUILD_DIR)):
        raise HookBuildError(
            f"cannot build the hook in {BUILD_DIR}: make cannot handle a path with spaces or "
            "any of :;#$%=\\\"' (make the venv in another folder)"
        )
    variables = {"PYTHON": sys.executable, **_python_vars(), "BUILD": str(BUILD_DIR)}
    command = ["make", "-C", str(HOOK_DIR), *(f"{k}={v}" for k, v in variables.items())]
    try:
        result = subprocess.run(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
    except FileNotFoundError as exc:
        raise HookBuildError("make is not installed: install Debian's make and g++") from exc
    if result.returncode != 0:
        raise HookBuildError(
            f"building the hook failed ({' '.join(command)}):\n{result.stdout.rstrip()}"
        )
    if not quiet and result.stdout:
        print(result.stdout, end="")
    return library_path()


def library_path() -> Path:
    """The built hook library; raise HookBuildError if it has not been built."""
    if not LIBRARY.is_file():
        raise HookBuildError(f"{LIBRARY} is not built: run `kea-fanvil hook build`")
    return LIBRARY


def install() -> Path:
    """Install the built library into the installed Kea's hooks directory (needs root)."""
    library = library_path()
    try:
        kea = kea_install.installed()
        return kea_install.install_hook(library, kea)
    except KeaNotFound as exc:
        raise HookBuildError(str(exc)) from exc
    except OSError as exc:
        where = getattr(exc, "filename", None)
        raise HookBuildError(
            f"cannot install the hook{f' as {where}' if where else ''}: {exc.strerror or exc}"
            + (" (run as root)" if os.geteuid() != 0 else "")
        ) from exc


def installed_path() -> Path:
    """The hook in Kea's hooks directory; HookBuildError if absent or not the current build.

    A stale copy would run code other than this checkout's: after `hook build`, `hook install`
    is due."""
    try:
        target = kea_install.installed().hook_path
    except KeaNotFound as exc:
        raise HookBuildError(str(exc)) from exc
    if not target.is_file():
        raise HookBuildError(f"{target} is not installed: run `kea-fanvil hook install` as root")
    if LIBRARY.is_file() and not kea_install.same_file_contents(LIBRARY, target):
        raise HookBuildError(
            f"{target} is not the library built in {LIBRARY.parent}: run "
            "`kea-fanvil hook install` as root"
        )
    return target
