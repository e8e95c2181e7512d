"""The live demo: the local test server on the sample data and a workspace connected to it
(``contactsync demo --live``, the browser test)."""

from __future__ import annotations

from typing import Any

from ..errors import WorkspaceError

__all__ = ["DEMO_TOKEN", "DEMO_TOKEN_ENV", "prepare_live_demo", "sample_frames"]

#: The local demo server's token: not a secret (it opens only the test server on 127.0.0.1)
DEMO_TOKEN = "contactsync-demo-token"
DEMO_TOKEN_ENV = "CONTACTSYNC_DEMO_TOKEN"


def sample_frames(data=None) -> dict:
    """The sample exports (a folder, the bundled data/, or generated) as frames."""
    from pathlib import Path

    from ..demo import DATA_FILES, data_dir
    from ..sample import generate

    folder = Path(data) if data else data_dir()
    if folder is not None:
        import pandas as pd

        return {k: pd.read_csv(folder / v, dtype=str, keep_default_na=False) for k, v in DATA_FILES.items()}
    s = generate()
    return {"accounts": s.crm_account, "nav": s.nav_contact, "crm": s.crm_contact,
            "company_couplings": s.company_couplings, "contact_couplings": s.contact_couplings}


def prepare_live_demo(workspace: str, srv, *, data=None, token_env: str = DEMO_TOKEN_ENV):
    """Seed the test server ``srv`` with the sample data, connect a new workspace to it (signing in with the
    token in ``token_env``), pull both sides and load the sample couplings. Returns the two PullResults."""
    from pathlib import Path

    from ..workspace import Workspace
    from .connections import CUSTOM_NAV_FIELDS

    if Path(workspace).exists():
        raise WorkspaceError(f"{workspace!r} exists; demo --live builds a new workspace (choose another -w)")
    frames = sample_frames(data)
    srv.seed(nav=frames["nav"], crm=frames["crm"].replace("", None), accounts=frames["accounts"])
    with Workspace.open(workspace) as ws:
        ws.import_accounts(frames["accounts"])
        opts: dict[str, Any] = {"auth": "static_token_env", "secret_env": token_env}
        ws.connect("crm", srv.crm_url, **opts)
        ws.connect("nav", srv.nav_custom_url, fields=CUSTOM_NAV_FIELDS, **opts)
        pc, pn = ws.pull("crm"), ws.pull("nav")
        ws.import_couplings(frames["company_couplings"], entity="company")
        ws.import_couplings(frames["contact_couplings"], entity="contact")
    return pc, pn
