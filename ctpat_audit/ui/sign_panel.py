"""The sign step at the end of the validation and self-assessment notebooks.

:class:`RenderAndSignPanel` is the notebooks' last step: key file, passphrase, and one button
that renders the page's submitted session's report (with the render function it is given:
``ui`` sits below ``reports``, so the notebook passes the report pipeline in, see
:func:`ctpat_audit.server.lab.sign_step`), signs it as the launched user, verifies it and
links the PDF.

``sign_panel(report_dir, ws)`` shows the key file, a password field for its passphrase, the
meaning and a Sign button; clicking signs the report (:func:`ctpat_audit.trust.signing.sign_report`),
verifies it (:func:`ctpat_audit.trust.verify.verify_report`) and shows the plain verification report,
so a specialist never leaves Jupyter. The passphrase field is cleared after every attempt.
No rule lives here: refusals come from the signing module and are shown as they are.
"""
from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from ctpat_audit.core.errors import CtpatError
from ctpat_audit.ui.session_page import SessionPage, status_text

__all__ = ["sign_panel", "RenderAndSignPanel"]


def sign_panel(report_dir: str | Path, ws: Any, key_path: str | Path | None = None,
               meaning: str | None = None) -> Any:
    """An ipywidgets VBox; ``panel.sign_button.click()`` does what the button does."""
    import ipywidgets as w

    from ctpat_audit.trust.keys import load_signer
    from ctpat_audit.trust.signing import MEANINGS, sign_report
    from ctpat_audit.trust.verify import verify_report
    from ctpat_audit.workspace.reference import as_workspace

    key = w.Text(value=str(key_path or ""), description="Key (.p12)",
                 placeholder="path to your PKCS#12 key file",
                 layout=w.Layout(width="60%"))
    secret = w.Password(description="Passphrase", layout=w.Layout(width="40%"))
    choice = w.Dropdown(options=[("from my certificate's role", "")]
                        + [(v[0], k) for k, v in MEANINGS.items()],
                        value=meaning or "", description="Meaning")
    button = w.Button(description="Sign report", button_style="primary", icon="pen")
    status = w.HTML()
    root = as_workspace(ws).path

    def on_click(_: Any) -> None:
        phrase, secret.value = secret.value, ""
        button.disabled = True
        try:
            signer = load_signer(key.value, phrase)
            entry = sign_report(report_dir, ws, signer, choice.value or None)
            check = verify_report(report_dir, root / "keys")
            colour = "green" if check.ok else "red"
            status.value = (f"<b>{html.escape(entry['label'])} "
                            f"{html.escape(entry['signer'])}</b> at "
                            f"{html.escape(entry['time'])}<pre style='color:{colour}'>"
                            f"{html.escape(check.text())}</pre>")
        except CtpatError as exc:
            status.value = f"<pre style='color:red'>Not signed: {html.escape(str(exc))}</pre>"
        finally:
            button.disabled = False

    button.on_click(on_click)
    panel = w.VBox([w.HTML(f"<b>Sign report</b> {html.escape(str(report_dir))}"), key,
                    secret, choice, button, status])
    panel.key, panel.passphrase, panel.meaning = key, secret, choice
    panel.sign_button, panel.status = button, status
    return panel


class RenderAndSignPanel(widgets.VBox):
    """Render the page's session's report, sign it with the launched user's key, verify it.

    ``render(session_id)`` renders the report and returns its folder. The key must belong to
    the page's user (its certificate's e-mail): nobody signs with someone else's key here.
    The session must be submitted first (the submit step above); the passphrase field is
    cleared after every attempt.
    """

    def __init__(self, page: SessionPage, render: Callable[[str], Path], *,
                 key_path: str | Path | None = None, meaning: str | None = None,
                 link_prefix: str = "") -> None:
        self.page, self.render, self.meaning = page, render, meaning
        self.link_prefix = link_prefix  # before the PDF's path relative to the notebook
        self.key = widgets.Text(value=str(key_path or ""), description="Key file (.p12)",
                                placeholder="path to your PKCS#12 key file",
                                style={"description_width": "initial"},
                                layout=widgets.Layout(width="70%"))
        self.passphrase = widgets.Password(description="Passphrase",
                                           style={"description_width": "initial"})
        self.button = widgets.Button(description="Render report and sign",
                                     button_style="primary", icon="pen",
                                     layout=widgets.Layout(width="auto"))
        self.button.add_class("ctpat-render-sign")
        self.status = widgets.HTML()
        self.status.add_class("ctpat-sign-result")
        self.report_dir: Path | None = None
        self.button.on_click(lambda _b: self.run())
        super().__init__([widgets.HTML("<b>Render report and sign</b>"), self.key,
                          self.passphrase, self.button, self.status])

    def _say(self, text: str, colour: str = "#333") -> None:
        self.status.value = f"<div style='color:{colour}'>{text}</div>"

    def run(self) -> bool:
        """What the button does; True when the report is signed and verifies."""
        from ctpat_audit.trust.keys import load_signer
        from ctpat_audit.trust.signing import sign_report
        from ctpat_audit.trust.verify import verify_report
        from ctpat_audit.workspace.reference import as_workspace

        phrase, self.passphrase.value = self.passphrase.value, ""
        session, esc = self.page.session, html.escape
        if session is None:
            self._say("Choose above what to do with the latest session first.", "#b00020")
            return False
        self.page.refresh()
        if self.page.status != "submitted":
            why = ("submit it first (Submission, above)" if self.page.status == "open"
                   else f"it is {status_text(self.page.status)}")
            self._say(f"<b>Not signed:</b> session {esc(session.id)} cannot be signed now: "
                      f"{esc(why)}.", "#b00020")
            return False
        self.button.disabled = True
        try:
            signer = load_signer(self.key.value, phrase)
            if signer.identity.email.strip().lower() != self.page.actor.strip().lower():
                self._say(f"<b>Not signed:</b> this key belongs to "
                          f"{esc(signer.identity.email)}; you are {esc(self.page.actor)}. "
                          "Choose your own key file.", "#b00020")
                return False
            self._say("Rendering the report (notebook, HTML, PDF, Excel)...")
            folder = self.report_dir = Path(self.render(session.id)).resolve()
            self._say("Signing and verifying...")
            entry = sign_report(folder, self.page.workspace, signer, self.meaning)
            check = verify_report(folder, as_workspace(self.page.workspace).path / "keys")
        except CtpatError as exc:
            self._say(f"<b>Not signed:</b> {esc(str(exc))}", "#b00020")
            return False
        finally:
            self.button.disabled = False
            self.page.refresh()
        colour = "#2e7d32" if check.ok else "#b00020"
        self.status.value = (
            f"<div><b>{esc(entry['label'])} {esc(entry['signer'])}</b> at "
            f"{esc(entry['time'])}. Verification: <b style='color:{colour}'>"
            f"{'verified' if check.ok else 'FAILED'}</b></div>"
            f"{_pdf_link(folder, self.link_prefix)}"
            f"<pre style='color:{colour};white-space:pre-wrap'>{esc(check.text())}</pre>")
        return bool(check.ok)


def _pdf_link(folder: Path, prefix: str = "") -> str:
    """A link to the report's PDF when it lies in the notebook's folder (JupyterLab opens such
    relative links; Voila needs ``prefix``, its file handler), else its path as text."""
    pdf = (folder / "report.pdf").resolve()
    try:
        path = pdf.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return f"<div>PDF: <code>{html.escape(str(pdf))}</code></div>"
    return (f"<div><a href='{html.escape(prefix + path)}' target='_blank' "
            f"class='ctpat-pdf-link'>Open the signed PDF ({html.escape(path)})</a></div>")
