"""Build a workspace on the bundled sample data (``data/``), as the notebooks and ``contactsync demo`` do."""

from __future__ import annotations

from pathlib import Path

from .workspace import Workspace

__all__ = ["DATA_FILES", "build_demo", "data_dir"]

DATA_FILES = {
    "accounts": "crm_accounts.csv",
    "nav": "nav_contacts.csv",
    "crm": "crm_contacts.csv",
    "company_couplings": "company_couplings.csv",
    "contact_couplings": "contact_couplings.csv",
}


def data_dir() -> Path | None:
    """The repository's ``data/`` folder, when running from a checkout."""
    d = Path(__file__).resolve().parents[1] / "data"
    return d if (d / DATA_FILES["nav"]).exists() else None


def build_demo(path: str | Path = ":memory:", data: str | Path | None = None) -> Workspace:
    """Open ``path`` and load the sample exports into it (only when it holds no contacts yet).

    ``data``: a folder with the five sample files; default: the bundled ``data/``, or the same data
    generated in memory when the package runs outside a checkout.
    """
    ws = Workspace.open(path)
    if int(ws.sql("SELECT count(*) AS n FROM nav_contact")["n"].iloc[0]):
        return ws
    folder = Path(data) if data is not None else data_dir()
    if folder is not None:
        src = {k: folder / v for k, v in DATA_FILES.items()}
    else:
        from .sample import generate

        s = generate()
        src = {"accounts": s.crm_account, "nav": s.nav_contact, "crm": s.crm_contact,
               "company_couplings": s.company_couplings, "contact_couplings": s.contact_couplings}
    ws.import_accounts(src["accounts"])
    ws.import_nav(src["nav"])
    ws.import_crm(src["crm"])
    ws.import_couplings(src["company_couplings"], entity="company")
    ws.import_couplings(src["contact_couplings"], entity="contact")
    return ws
