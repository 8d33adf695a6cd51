"""Each user's copies of the installed notebooks: safe folder names, never overwritten, refreshed
only on request with a backup, and told when the installed notebook is newer."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import urllib.parse
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctpat_audit.core.errors import InputError, NotFoundError
from ctpat_audit.server.user_notebooks import (
    ORIGIN_FILE,
    REFRESH_HINT,
    prepare_user_notebooks,
    shipped_notebooks,
    user_folder_name,
)

NOON = dt.datetime(2026, 11, 1, 12, 0, 0, tzinfo=dt.UTC)
USER = "ana@cbp.example"


def _edit(path: Path, marker: bytes) -> bytes:
    data = path.read_bytes().replace(b'"parameters"', b'"parameters", "' + marker + b'"', 1)
    assert data != path.read_bytes()
    path.write_bytes(data)
    return data


@pytest.mark.parametrize("user, folder", [
    ("ana@cbp.example", "ana@cbp.example"),
    ("  Ana.Maria+ctpat@CBP.Example ", "ana.maria+ctpat@cbp.example"),
    ("o'neil@partner.example", "o%27neil@partner.example"),
    ("100%@x.example", "100%25@x.example"),
    ("josé@x.example", "jos%C3%A9@x.example"),
    ("root", "root"),
])
def test_folder_name_keeps_plain_addresses_and_encodes_the_rest(user, folder):
    assert user_folder_name(user) == folder


@pytest.mark.parametrize("user", [
    "", "   ", ".", "..", "../ana@cbp.example", "ana/../../etc", "ana@cbp.example/..", "/etc",
    "a\\b@x.example", ".hidden@x.example", "ana..b@x.example", "ana b@x.example",
    "ana\x00@x.example", "ana\n@x.example", "ana\u2028b@x.example", "a" * 300,
])
def test_folder_name_refuses_path_tricks(user):
    with pytest.raises(InputError, match="user"):
        user_folder_name(user)


@given(st.text(max_size=80))
def test_folder_name_is_one_safe_path_component_and_one_to_one(user):
    try:
        name = user_folder_name(user)
    except InputError:
        return
    base = Path("/ws/notebooks")
    assert (base / name).parent == base and not name.startswith(".") and ".." not in name
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789._+-@%ABCDEF")
    assert urllib.parse.unquote(name) == user.strip().lower()  # decodes back: no two share one


def test_first_launch_copies_every_installed_notebook(tmp_path):
    copies = prepare_user_notebooks(tmp_path, USER)
    shipped = shipped_notebooks()
    assert copies.folder == tmp_path / "notebooks" / USER
    assert set(copies.copied) == set(shipped) >= {"validation.ipynb", "self_assessment.ipynb"}
    for name, source in shipped.items():
        assert (copies.folder / name).read_bytes() == source.read_bytes()
    origin = json.loads((copies.folder / ORIGIN_FILE).read_text())
    assert origin["validation.ipynb"]["sha256"] == hashlib.sha256(
        shipped["validation.ipynb"].read_bytes()).hexdigest()
    assert len(copies.notices()) == 1 and str(copies.folder) in copies.notices()[0]


def test_only_the_named_notebooks_are_copied(tmp_path):
    copies = prepare_user_notebooks(tmp_path, USER, ["self_assessment.ipynb"])
    assert [p.name for p in copies.folder.glob("*.ipynb")] == ["self_assessment.ipynb"]
    with pytest.raises(NotFoundError, match=r"validation\.ipynb"):
        prepare_user_notebooks(tmp_path, USER, ["nope.ipynb"])


def test_an_edited_copy_is_never_overwritten_and_not_called_outdated(tmp_path):
    folder = prepare_user_notebooks(tmp_path, USER).folder
    mine = _edit(folder / "validation.ipynb", b"my edit")
    again = prepare_user_notebooks(tmp_path, USER)
    assert (folder / "validation.ipynb").read_bytes() == mine
    assert again.copied == again.outdated == () and again.notices() == []
    assert not (folder / "backups").exists()


def test_a_deleted_copy_is_made_again(tmp_path):
    folder = prepare_user_notebooks(tmp_path, USER).folder
    (folder / "portfolio.ipynb").unlink()
    assert prepare_user_notebooks(tmp_path, USER).copied == ("portfolio.ipynb",)


def test_a_newer_installed_notebook_is_named_in_one_line(tmp_path):
    folder = prepare_user_notebooks(tmp_path, USER).folder
    # as if the copy had been made from an older release: its bytes and its origin record
    older = _edit(folder / "validation.ipynb", b"older release")
    origin = json.loads((folder / ORIGIN_FILE).read_text())
    origin["validation.ipynb"]["sha256"] = hashlib.sha256(older).hexdigest()
    (folder / ORIGIN_FILE).write_text(json.dumps(origin))
    copies = prepare_user_notebooks(tmp_path, USER)
    assert copies.outdated == ("validation.ipynb",)
    [line] = copies.notices()
    assert "validation.ipynb" in line and REFRESH_HINT in line and "backup" in line
    assert (folder / "validation.ipynb").read_bytes() == older  # still not overwritten


def test_a_copy_without_origin_record_is_outdated_only_when_older_than_the_installed(tmp_path):
    folder = prepare_user_notebooks(tmp_path, USER).folder
    (folder / ORIGIN_FILE).unlink()
    copy = folder / "validation.ipynb"
    _edit(copy, b"hand copy")
    installed_mtime = shipped_notebooks()["validation.ipynb"].stat().st_mtime
    os.utime(copy, (installed_mtime + 60, installed_mtime + 60))
    assert prepare_user_notebooks(tmp_path, USER).outdated == ()
    (folder / ORIGIN_FILE).unlink()
    os.utime(copy, (installed_mtime - 60, installed_mtime - 60))
    assert prepare_user_notebooks(tmp_path, USER).outdated == ("validation.ipynb",)


def test_refresh_keeps_each_changed_copy_as_a_timestamped_backup(tmp_path):
    folder = prepare_user_notebooks(tmp_path, USER).folder
    installed = shipped_notebooks()["validation.ipynb"].read_bytes()
    first = _edit(folder / "validation.ipynb", b"first")
    copies = prepare_user_notebooks(tmp_path, USER, refresh=True, now=NOON)
    backup = folder / "backups" / "validation-20261101T120000Z.ipynb"
    assert copies.refreshed == (("validation.ipynb", backup),)
    assert backup.read_bytes() == first and (folder / "validation.ipynb").read_bytes() == installed
    assert set(copies.current) == set(shipped_notebooks()) - {"validation.ipynb"}
    assert any(str(backup) in line and "Refreshed validation.ipynb" in line
               for line in copies.notices())
    # a second refresh in the same second keeps both backups
    second = _edit(folder / "validation.ipynb", b"second")
    again = prepare_user_notebooks(tmp_path, USER, refresh=True, now=NOON)
    assert again.refreshed == (("validation.ipynb",
                                folder / "backups" / "validation-20261101T120000Z-2.ipynb"),)
    assert again.refreshed[0][1].read_bytes() == second and backup.read_bytes() == first
    # after a refresh the copy is current again: no notice on the next launch
    assert prepare_user_notebooks(tmp_path, USER).notices() == []


def test_users_get_separate_folders_and_bad_names_create_nothing(tmp_path):
    a = prepare_user_notebooks(tmp_path, "a@cbp.example").folder
    b = prepare_user_notebooks(tmp_path, "b@cbp.example").folder
    assert a != b and a.parent == b.parent == tmp_path / "notebooks"
    with pytest.raises(InputError):
        prepare_user_notebooks(tmp_path, "../../escape")
    assert sorted(p.name for p in (tmp_path / "notebooks").iterdir()) == ["a@cbp.example",
                                                                          "b@cbp.example"]
    assert not (tmp_path.parent / "escape").exists()


def test_a_partner_notebook_is_the_users_copy_with_the_partner_set_and_is_kept(tmp_path):
    import nbformat

    from ctpat_audit.server.user_notebooks import PartnerNotebooks

    ws = tmp_path / "ws"
    partners = PartnerNotebooks(ws, USER)
    mine = partners.source
    _edit(mine, b"my-tag")  # the user's own copy is the base, edits included
    path = partners.notebook("0012345")
    assert path == ws / "notebooks" / USER / "partners" / "validation-0012345.ipynb"
    nb = nbformat.read(path, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    assert f"workspace = {str(ws.resolve())!r}" in injected[0].source.replace('"', "'")
    assert "account_id = '0012345'" in injected[0].source.replace('"', "'")  # text, zeros kept
    assert "my-tag" in path.read_text()
    path.write_text(path.read_text().replace("my-tag", "partner-edit"))
    assert partners.notebook("0012345") == path and "partner-edit" in path.read_text()
    for bad in ("../x", "a/b", " ", ".hidden"):
        with pytest.raises(InputError):
            partners.path(bad)


def test_validation_links_open_partner_notebooks_from_the_users_folder_only(tmp_path,
                                                                           monkeypatch):
    from ctpat_audit.server.lab import validation_links
    from ctpat_audit.server.user_notebooks import user_folder

    ws = tmp_path / "ws"
    monkeypatch.chdir(tmp_path)  # a headless run elsewhere: plain ids, nothing made
    assert validation_links(ws, USER)("0012345") == "0012345"
    assert not (ws / "notebooks").exists()
    folder = user_folder(ws, USER)
    folder.mkdir(parents=True)
    monkeypatch.chdir(folder)  # the portfolio opened in JupyterLab from the user's folder
    html = validation_links(ws, USER)("0012345")
    assert html == ("<a class='ctpat-open-partner' href='partners/validation-0012345.ipynb' "
                    "title='Open the validation of partner 0012345'>0012345</a>")
    assert (folder / "partners" / "validation-0012345.ipynb").is_file()
