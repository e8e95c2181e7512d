"""Optional parts of contactsync and the extra that installs each (``pip install 'contactsync[app]'``).

The core (engine, CLI, papermill runs) installs without them; a front end or service that needs one
calls :func:`require` first, so a missing extra is one clear :class:`MissingExtraError` naming the
``pip install`` to run, not an ``ImportError`` from deep inside.
"""

from __future__ import annotations

import importlib.util
from enum import Enum

from .errors import ContactSyncError

__all__ = ["Extra", "MissingExtraError", "missing", "require"]


class Extra(str, Enum):
    """The package's extras (``[project.optional-dependencies]`` in pyproject.toml)."""

    APP = "app"  # the steward app: ipywidgets, Voilà
    LAB = "lab"  # JupyterLab
    MATCH = "match"  # Splink for scored matching
    LIVE = "live"  # live connectors: azure-identity, the Dataverse SDK, httpx
    BENCH = "bench"  # the benchmarks
    TEST = "test"  # everything the test suite needs

    @property
    def install(self) -> str:
        return f"pip install 'contactsync[{self.value}]'"


#: What each extra is for, as the error message says it.
PURPOSE = {
    Extra.APP: "the steward app (ipywidgets, Voilà)",
    Extra.LAB: "JupyterLab",
    Extra.MATCH: "scored matching with Splink",
    Extra.LIVE: "the live connectors (azure-identity, the Dataverse SDK, httpx)",
    Extra.BENCH: "the benchmarks",
    Extra.TEST: "the test suite",
}


class MissingExtraError(ContactSyncError, ImportError):
    """A part of contactsync needs an optional dependency that is not installed (an ImportError too, so
    code probing for an optional part with ``except ImportError`` keeps working)."""


def missing(*modules: str) -> list[str]:
    """The importable names among ``modules`` that are not installed (without importing them)."""
    out = []
    for m in modules:
        try:
            found = importlib.util.find_spec(m) is not None
        except (ImportError, ValueError):  # a parent package is missing, or a broken __spec__
            found = False
        if not found:
            out.append(m)
    return out


def require(extra: Extra | str, *modules: str, what: str | None = None) -> None:
    """Raise :class:`MissingExtraError` naming ``pip install 'contactsync[extra]'`` when one of
    ``modules`` is not installed. ``what``: the feature asking, for the message (default: the extra's)."""
    extra = Extra(extra)
    gone = missing(*modules)
    if gone:
        raise MissingExtraError(
            f"{what or PURPOSE[extra]} needs {', '.join(gone)}, which {'is' if len(gone) == 1 else 'are'} not "
            f"installed; install the {extra.value!r} extra: {extra.install}",
            extra=extra.value, modules=gone)
