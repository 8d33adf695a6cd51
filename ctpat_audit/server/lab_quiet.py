"""JupyterLab without its calls home, for every server the toolkit starts (``lab`` and the
hub's single-user servers)."""
from __future__ import annotations

from ctpat_audit.core import package_data

__all__ = ["LAB_QUIET"]

#: No news feed and no update check, and no toast asking about either: the settings in
#: ``ctpat_audit/data/lab_settings/overrides.json``, the only file of the folder Lab reads its
#: settings overrides from.
LAB_QUIET = ("--LabApp.news_url=None",
             "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
             f"--LabApp.app_settings_dir={package_data.data_dir() / 'lab_settings'}")
