"""The notebooks that ship inside the package (package data, so an installed wheel has them).

* ``steward.ipynb`` - the steward app (``contactsync app`` serves it with Voilà; it opens in JupyterLab too);
* ``sync_run.ipynb`` - one headless sync run (``contactsync report`` runs it with papermill).

They stay thin (all logic is in :mod:`contactsync.ui` and :mod:`contactsync.report`) and are committed
without outputs. The repository's ``notebooks/`` folder links to them, beside the ad hoc ones.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["FOLDER", "STEWARD", "SYNC_RUN"]

#: The folder holding the packaged notebooks.
FOLDER = Path(__file__).resolve().parent
#: The steward app's notebook (Voilà, JupyterLab).
STEWARD = FOLDER / "steward.ipynb"
#: The headless sync run's notebook (papermill).
SYNC_RUN = FOLDER / "sync_run.ipynb"
