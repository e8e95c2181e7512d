"""Keep outputs out of the tracked notebooks: a Jupyter server pre-save hook that strips what a run adds
(outputs, execution counts, widget state, the kernel's language details) with nbstripout before the
file is written. Opening ``notebooks/steward.ipynb`` in JupyterLab and running all then leaves the file
on disk as it was. ``jupyter_server_config.py`` at the checkout's root installs it for ``jupyter lab``
started there; elsewhere: ``c.FileContentsManager.pre_save_hook = "contactsync.ui.lab.strip_before_save"``.

Why a pre-save hook and not only nbstripout's git filter: the filter keeps git's view clean but leaves the
outputs in the working file (a diff for every tool that reads the file, and a filter each clone must
install); the hook never writes them.
"""

from __future__ import annotations

__all__ = ["EXTRA_KEYS", "strip_before_save"]

#: what a run adds besides outputs and counts (nbstripout's defaults plus the kernel's language details)
EXTRA_KEYS = (
    "metadata.signature", "metadata.widgets", "cell.metadata.collapsed", "cell.metadata.ExecuteTime",
    "cell.metadata.execution", "cell.metadata.heading_collapsed", "cell.metadata.hidden", "cell.metadata.scrolled",
    "metadata.language_info.codemirror_mode", "metadata.language_info.file_extension",
    "metadata.language_info.mimetype", "metadata.language_info.nbconvert_exporter",
    "metadata.language_info.pygments_lexer", "metadata.language_info.version", "metadata.papermill",
    "cell.metadata.papermill",
)


def strip_before_save(model: dict, **_kw) -> None:
    """Jupyter's ``pre_save_hook``: strip ``model``'s notebook in place (other files are left alone)."""
    if model.get("type") != "notebook" or not model.get("content"):
        return
    import nbformat
    from nbstripout import strip_output

    nb = nbformat.from_dict(model["content"])
    strip_output(nb, keep_output=False, keep_count=False, keep_id=True, extra_keys=list(EXTRA_KEYS))
    model["content"] = nb
