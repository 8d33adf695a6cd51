"""Offline verification of signed report folders: every tampering tried is caught."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from signing_helpers import CA_PASS, Setup, make_report, make_setup

from ctpat_audit.cli import main
from ctpat_audit.trust import keys
from ctpat_audit.trust.signing import MANIFEST, MANIFEST_SIG, report_files, sign_report
from ctpat_audit.trust.verify import verify_report


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Setup:
    return make_setup(tmp_path_factory.mktemp("verify"))


@pytest.fixture(scope="module")
def signed(setup: Setup) -> Path:
    """A validation report signed by the specialist and countersigned by a supervisor."""
    folder = make_report(setup)
    sign_report(folder, setup.ws, setup.signer("spec"))
    sign_report(folder, setup.ws, setup.signer("sup"))
    return folder


@pytest.fixture
def copy(signed: Path, tmp_path: Path) -> Path:
    """A private copy of the signed report (same folder name) to tamper with."""
    target = tmp_path / signed.parent.name / signed.name
    shutil.copytree(signed, target)
    return target


def trust(setup: Setup) -> Path:
    return setup.ws.path / "keys"


def test_signed_report_verifies_with_who_what_when(setup: Setup, signed: Path) -> None:
    rep = verify_report(signed, trust(setup))
    assert rep.ok, rep.problems
    assert [(s.signer, s.role, s.meaning) for s in rep.signatures] == [
        ("Sam Spec", "specialist", "validated"), ("Sue Sup", "supervisor", "approved")]
    assert rep.files_checked == 5  # 4 report artifacts + 1 evidence file
    text = rep.text()
    assert "Validated by Sam Spec <sam.spec@cbp.example> (specialist)" in text
    assert "Approved by Sue Sup" in text and "VERIFIED" in text
    # the CA .pem file alone is a trust store too (the CRL beside it is used)
    assert verify_report(signed, trust(setup) / "ca.pem").ok


def test_flipping_any_byte_of_any_file_is_detected(setup: Setup, signed: Path,
                                                   tmp_path: Path) -> None:
    names = report_files(signed) + [MANIFEST, MANIFEST_SIG]
    assert len(names) == 7
    trials = 0
    for rel in names:
        size = (signed / rel).stat().st_size
        for pos in sorted({0, size // 3, size // 2, size - 1}):
            work = tmp_path / f"t{trials}" / signed.name
            shutil.copytree(signed, work)
            data = bytearray((work / rel).read_bytes())
            data[pos] ^= 0x01
            (work / rel).write_bytes(bytes(data))
            rep = verify_report(work, trust(setup))
            assert not rep.ok, f"flip at {rel}:{pos} not detected"
            trials += 1
            shutil.rmtree(work.parent)
    assert trials >= 25


@pytest.mark.parametrize("change", ["delete", "add", "append_pdf", "truncate_pdf",
                                    "add_evidence", "drop_sig", "append_sig"])
def test_file_set_changes_are_detected(setup: Setup, copy: Path, change: str) -> None:
    if change == "delete":
        (copy / "report.xlsx").unlink()
    elif change == "add":
        (copy / "notes.txt").write_text("added later")
    elif change == "append_pdf":
        with (copy / "report.pdf").open("ab") as fh:
            fh.write(b"\n% appended\n")
    elif change == "truncate_pdf":
        data = (copy / "report.pdf").read_bytes()
        (copy / "report.pdf").write_bytes(data[:-200])
    elif change == "add_evidence":
        (copy / "evidence" / ("0" * 64)).write_bytes(b"planted")
    elif change == "append_sig":  # found by stress/tamper.py: trailing bytes were ignored
        with (copy / MANIFEST_SIG).open("ab") as fh:
            fh.write(b"\x00")
    else:
        (copy / MANIFEST_SIG).unlink()
    rep = verify_report(copy, trust(setup))
    assert not rep.ok and rep.problems


def test_manifest_edit_with_hashes_kept_is_detected(setup: Setup, copy: Path) -> None:
    text = (copy / MANIFEST).read_text().replace('"supervisor"', '"specialist"')
    (copy / MANIFEST).write_text(text)
    rep = verify_report(copy, trust(setup))
    assert any("manifest signature" in p for p in rep.problems)


def _two_reports(setup: Setup, tmp_path: Path) -> tuple[Path, Path]:
    a, b = make_report(setup, evidence=False), make_report(setup, evidence=False)
    for folder in (a, b):
        sign_report(folder, setup.ws, setup.signer("spec"))
    return a, b


def test_moving_manifest_or_signature_between_reports_is_detected(setup: Setup,
                                                                 tmp_path: Path) -> None:
    a, b = _two_reports(setup, tmp_path)
    assert verify_report(a, trust(setup)).ok and verify_report(b, trust(setup)).ok
    cases = {"manifest pair": [MANIFEST, MANIFEST_SIG], "manifest.sig": [MANIFEST_SIG],
             "signed pdf": ["report.pdf"], "pdf and manifest": ["report.pdf", MANIFEST,
                                                                MANIFEST_SIG]}
    for label, files in cases.items():
        work = tmp_path / label.replace(" ", "_") / b.name
        shutil.copytree(b, work)
        for name in files:
            shutil.copy2(a / name, work / name)
        rep = verify_report(work, trust(setup))
        assert not rep.ok, f"{label} moved from A to B not detected"
    # the whole of A put where B was: the folder (session) name no longer matches
    work = tmp_path / "whole" / b.name
    shutil.copytree(a, work)
    rep = verify_report(work, trust(setup))
    assert not rep.ok and any("moved between reports" in p for p in rep.problems)


def test_revoked_signer_fails_verification(tmp_path: Path) -> None:
    setup = make_setup(tmp_path)
    folder = make_report(setup, evidence=False)
    sign_report(folder, setup.ws, setup.signer("spec"))
    assert verify_report(folder, trust(setup)).ok
    keys.revoke(setup.ca, setup.signer("spec").certificate.serial_number)
    rep = verify_report(folder, trust(setup))
    assert not rep.ok and any("revoked" in p for p in rep.problems)


def test_foreign_trust_store_fails(setup: Setup, signed: Path, tmp_path: Path) -> None:
    keys.init_ca(tmp_path / "foreign", CA_PASS)
    rep = verify_report(signed, tmp_path / "foreign" / "keys")
    assert not rep.ok
    assert any("does not chain" in p for p in rep.problems)
    missing = verify_report(signed, tmp_path / "nowhere")
    assert not missing.ok and "trust store" in missing.problems[0]


def test_unsigned_folder_fails(setup: Setup) -> None:
    folder = make_report(setup, evidence=False)
    rep = verify_report(folder, trust(setup))
    assert not rep.ok and "not signed" in rep.problems[0]


def test_cli_verify_exit_codes(setup: Setup, signed: Path, copy: Path) -> None:
    runner = CliRunner()
    good = runner.invoke(main, ["verify", str(signed), "--trust", str(trust(setup))])
    assert good.exit_code == 0, good.output
    assert "VERIFIED" in good.output and "Approved by Sue Sup" in good.output
    (copy / "report.html").write_text("<html>forged</html>")
    bad = runner.invoke(main, ["verify", str(copy), "--trust", str(trust(setup))])
    assert bad.exit_code == 1
    assert "report.html: SHA-256 differs" in bad.output and "FAILED" in bad.output


def test_cli_verify_reads_no_workspace_from_the_environment(setup: Setup, signed: Path,
                                                            tmp_path: Path) -> None:
    """$CTPAT_WORKSPACE names the user's own workspace, not the one a report came from: an
    audit-log check against it would fail a genuine report, so verify needs -w for it."""
    other = tmp_path / "elsewhere"
    res = CliRunner().invoke(main, ["verify", str(signed), "--trust", str(trust(setup))],
                             env={"CTPAT_WORKSPACE": str(other)})
    assert res.exit_code == 0 and "VERIFIED" in res.output, res.output
    res = CliRunner().invoke(main, ["verify", str(signed), "--trust", str(trust(setup)),
                                    "-w", str(other)])
    assert res.exit_code == 1 and "audit log" in res.output


def test_verify_without_a_trust_store_says_so(signed: Path) -> None:
    from ctpat_audit.core.errors import InputError

    with pytest.raises(InputError, match="trust store: got None, expected the folder "
                                         "WORKSPACE/keys"):
        verify_report(signed, None)  # type: ignore[arg-type]


@pytest.mark.parametrize("edit", [
    lambda m: m.update(signatures="x"),
    lambda m: m.update(signatures=[]),
    lambda m: m.update(report=None),
    lambda m: m["artifacts"].append({"path": "../../../etc/passwd", "sha256": "0" * 64,
                                     "size": 1}),
    lambda m: m["artifacts"][0].update(size="12"),
    lambda m: m["signatures"][0].update(meaning="approved"),
    lambda m: m["signatures"].reverse(),
    lambda m: m["report"].update(session_id="V-AAAAAAAAAA"),
    lambda m: m["report"].update(kind="self_assessment"),
])
def test_hostile_manifest_edits_are_problems_not_crashes(setup: Setup, copy: Path,
                                                         edit) -> None:
    import json

    manifest = json.loads((copy / MANIFEST).read_text())
    edit(manifest)
    (copy / MANIFEST).write_text(json.dumps(manifest))
    rep = verify_report(copy, trust(setup))
    assert not rep.ok and rep.problems
    assert not any("could not be checked" in p for p in rep.problems), rep.problems


@pytest.mark.parametrize("content", [b"", b"\xff\xfe", b"[]", b'{"format": 1}', b"null"])
def test_unreadable_manifest_is_a_problem(setup: Setup, copy: Path, content: bytes) -> None:
    (copy / MANIFEST).write_bytes(content)
    rep = verify_report(copy, trust(setup))
    assert not rep.ok and MANIFEST in rep.problems[0]


def test_audit_log_truncated_after_signing_is_detected(tmp_path: Path) -> None:
    """With --workspace, the audit-log head pinned in the manifest must still be in the log."""
    import sqlite3

    from click.testing import CliRunner

    setup = make_setup(tmp_path)
    folder = make_report(setup, evidence=False)
    sign_report(folder, setup.ws, setup.signer("spec"))
    assert verify_report(folder, trust(setup), setup.ws.path).ok
    conn = sqlite3.connect(setup.ws.db_path)
    conn.execute("DROP TRIGGER audit_log_no_delete")  # what someone editing the file can do
    conn.execute("DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)")
    conn.commit()
    conn.close()
    assert verify_report(folder, trust(setup)).ok  # offline: the folder alone still verifies
    rep = verify_report(folder, trust(setup), setup.ws.path)
    assert not rep.ok and any("pinned head" in p for p in rep.problems)
    res = CliRunner().invoke(main, ["verify", str(folder), "--trust", str(trust(setup)),
                                    "--workspace", str(setup.ws.path)])
    assert res.exit_code == 1 and "audit log" in res.output


@pytest.mark.parametrize("where", ["embedded_ca", "signed_data_version", "digest_algorithm"])
def test_unsigned_parts_of_the_manifest_signature_are_checked(setup: Setup, copy: Path,
                                                              where: str) -> None:
    """Found by stress/tamper.py: these bytes of manifest.sig are outside what the CMS
    signature covers, so a flip there used to verify."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509 import load_pem_x509_certificate

    raw = bytearray((copy / MANIFEST_SIG).read_bytes())
    if where == "embedded_ca":
        ca = load_pem_x509_certificate((trust(setup) / "ca.pem").read_bytes())
        der = ca.public_bytes(serialization.Encoding.DER)
        pos = bytes(raw).find(der) + len(der) // 2
        assert pos > len(der) // 2
    elif where == "signed_data_version":
        pos = bytes(raw).find(b"\x02\x01\x01") + 2  # SignedData version INTEGER 1
    else:
        pos = bytes(raw).find(bytes.fromhex("608648016503040201")) + 3  # sha256 OID, header list
    raw[pos] ^= 0x01
    (copy / MANIFEST_SIG).write_bytes(bytes(raw))
    rep = verify_report(copy, trust(setup))
    assert not rep.ok and any(MANIFEST_SIG in p or "manifest signature" in p
                              for p in rep.problems), rep.problems
