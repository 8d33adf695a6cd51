"""The sign step at the end of the validation and self-assessment notebooks.

``sign_panel(report_dir, ws)`` shows the key file, a password field for its passphrase, the
meaning and a Sign button; clicking signs the report (:func:`ctpat_audit.trust.signing.sign_report`),
verifies it (:func:`ctpat_audit.trust.verify.verify_report`) and shows the plain verification report,
so a specialist never leaves Jupyter. The passphrase field is cleared after every attempt.
No rule lives here: refusals come from the signing module and are shown as they are.
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any

__all__ = ["sign_panel"]


def sign_panel(report_dir: str | Path, ws: Any, key_path: str | Path | None = None,
               meaning: str | None = None) -> Any:
    """An ipywidgets VBox; ``panel.sign_button.click()`` does what the button does."""
    import ipywidgets as w

    from ctpat_audit.core.errors import CtpatError
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
