"""Shared material for the signing tests: a workspace with a CA and signer keys, and small
report folders (a real PDF made with fpdf2 plus notebook/HTML/Excel stand-ins).

People and partners are invented for tests.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fpdf import FPDF
from session_helpers import ACCOUNT, CRITERIA, OFFICER, USER, make_workspace

from ctpat_audit.sessions.session import open_session
from ctpat_audit.trust import keys

CA_PASS = "ca-passphrase-1"
KEY_PASS = "key-passphrase-1"
SPECIALIST = "sam.spec@cbp.example"
OTHER_SPECIALIST = "olga.spec@cbp.example"
SUPERVISOR = "sue.sup@cbp.example"
OTHER_OFFICER = "cy@other.example"  # Company Officer of partner 0099999 in session_helpers


@dataclass
class Setup:
    root: Path
    ws: object
    ca: keys.CertificateAuthority
    p12: dict[str, Path]  # short name -> PKCS#12 file

    def signer(self, who: str) -> keys.Signer:
        return keys.load_signer(self.p12[who], KEY_PASS)


def make_setup(root: Path) -> Setup:
    """Workspace + CA + keys: spec, spec2, sup, officer (of ACCOUNT), user (a non-officer
    contact holding an officer certificate), other_officer (officer of another partner)."""
    ws = make_workspace(root / "ws")
    ca = keys.init_ca(ws.path, CA_PASS)
    people = {"spec": ("Sam Spec", SPECIALIST, "specialist", None),
              "spec2": ("Olga Spec", OTHER_SPECIALIST, "specialist", None),
              "sup": ("Sue Sup", SUPERVISOR, "supervisor", None),
              "officer": ("Ana Officer", OFFICER, "company_officer", ACCOUNT),
              "user": ("Bo User", USER, "company_officer", ACCOUNT),
              "other_officer": ("Cy Other", OTHER_OFFICER, "company_officer", "0099999")}
    p12 = {}
    for short, (name, email, role, acct) in people.items():
        p12[short] = root / f"{short}.p12"
        keys.issue_signer(ca, p12[short], KEY_PASS, name=name, email=email, role=role,
                          account_id=acct)
    return Setup(root, ws, ca, p12)


def write_pdf(path: Path, title: str, pages: int = 2) -> None:
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for i in range(pages):
        pdf.add_page()
        pdf.cell(0, 10, f"{title} - page {i + 1}")
    pdf.output(str(path))


def make_report(setup: Setup, kind: str = "validation", opened_by: str = SPECIALIST,
                evidence: bool = True) -> Path:
    """A session (validation or self-assessment) and its report folder REPORTS/<acct>/<sid>."""
    mode = "virtual" if kind == "validation" else None
    with open_session(setup.ws, ACCOUNT, kind, mode, opened_by, criteria=CRITERIA,
                      catalogue_version="test") as s:
        if evidence:
            s.attach("1.1", "seal log.pdf", b"%PDF-1.4 seal log " + s.id.encode())
        sid = s.id
    folder = setup.root / "reports" / ACCOUNT / sid
    folder.mkdir(parents=True)
    write_pdf(folder / "report.pdf", f"CTPAT report {sid}")
    (folder / "report.html").write_text(f"<html><body><h1>{sid}</h1></body></html>")
    (folder / "report.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4}')
    (folder / "report.xlsx").write_bytes(b"PK\x03\x04 stand-in workbook " + sid.encode())
    return folder
