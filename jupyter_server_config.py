# JupyterLab / Jupyter server started in this checkout: notebooks are saved without outputs (nbstripout),
# so running the steward notebook leaves the tracked file unchanged. See contactsync/ui/lab.py.
c = get_config()  # noqa: F821 - provided by Jupyter when it loads this file
c.FileContentsManager.pre_save_hook = "contactsync.ui.lab.strip_before_save"
