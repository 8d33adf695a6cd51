"""Keys, signing and verification: the ``keys`` group, ``sign`` and ``verify``."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from ctpat_audit.cli.app import EXIT_ERROR
from ctpat_audit.cli.options import (
    CA_PASSPHRASE_ENV,
    CA_PASSPHRASE_FILE,
    KEY_LABEL,
    PASSPHRASE_ENV,
    PASSPHRASE_FILE,
    PIN_ENV,
    PKCS11_MODULE,
    TOKEN_LABEL,
    read_secret,
    workspace_option,
)
from ctpat_audit.core.vocabulary import SIGNATURE_MEANINGS as MEANINGS
from ctpat_audit.core.vocabulary import SIGNER_ROLES as ROLES


@click.group()
def keys() -> None:
    """Signer keys and the workspace certificate authority (WORKSPACE/keys)."""


@keys.command("new")
@workspace_option()
@click.option("--name", required=True, help="Printed name of the signer.")
@click.option("--email", required=True, help="E-mail (must match the session/contact e-mail).")
@click.option("--role", required=True, type=click.Choice(ROLES), help="The signer's role.")
@click.option("--account", "account_id", help="Partner account id (Company Officers only).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="PKCS#12 file to write (default: ./<email>.p12, characters other than "
                   "letters, digits and @+._- as _); with --pkcs11-module "
                   "the certificate .pem (default: ./<email>.pem).")
@PASSPHRASE_ENV
@PASSPHRASE_FILE
@CA_PASSPHRASE_ENV
@CA_PASSPHRASE_FILE
@PKCS11_MODULE
@TOKEN_LABEL
@KEY_LABEL
@PIN_ENV
@click.option("--same-person/--different-person", "same_person", default=None,
              help="Needed when the name or e-mail (case and +tags set aside) matches someone "
                   "holding a certificate under another role: the holder is that person "
                   "(one person id), or another person. Written to the audit log.")
def keys_new(workspace: Path, name: str, email: str, role: str, account_id: str | None,
             out: Path | None, passphrase_env: str | None, passphrase_file: Path | None,
             ca_passphrase_env: str | None, ca_passphrase_file: Path | None,
             pkcs11_module: str | None, token_label: str | None, key_label: str | None,
             pin_env: str | None, same_person: bool | None) -> None:
    """Create a P-256 signer key + certificate issued by the workspace CA (created if new).

    The key goes into an encrypted PKCS#12 file, or (--pkcs11-module) is generated inside a
    PKCS#11 token and only the certificate is written. The CA records the holder as a person:
    a name or e-mail already held under another role needs --same-person or
    --different-person.
    """
    from ctpat_audit.trust.keys import has_ca, identity_of, init_ca, issue_signer, key_file_name

    key_file_name(email)  # an e-mail that is not one is refused before anything is asked

    if pkcs11_module and not (token_label and key_label):
        raise click.UsageError("--pkcs11-module needs --token-label and --key-label")
    ca = init_ca(workspace, read_secret(ca_passphrase_env, ca_passphrase_file,
                                        "Workspace CA passphrase", confirm=not has_ca(workspace)))
    who = f"{name} <{email}> ({role}{' ' + account_id if account_id else ''})"
    if pkcs11_module:
        from ctpat_audit.trust.token import issue_token_certificate

        out = out or key_file_name(email, ".pem")
        cert = issue_token_certificate(
            ca, out, module=pkcs11_module, token_label=str(token_label),
            pin=read_secret(pin_env, None, "Token PIN"), key_label=str(key_label), name=name,
            email=email, role=role, account_id=account_id, same_person=same_person)
        click.echo(f"key {key_label!r} generated in token {token_label!r}; certificate for "
                   f"{who} written to {out}; serial {cert.serial_number:x}")
        return
    out = out or key_file_name(email)
    cert = issue_signer(ca, out, read_secret(passphrase_env, passphrase_file,
                                             f"Passphrase for {email}'s key", confirm=True),
                        name=name, email=email, role=role, account_id=account_id,
                        same_person=same_person)
    click.echo(f"key for {who} written to {out}; certificate serial {cert.serial_number:x}, "
               f"person {identity_of(cert).person_id}")


@keys.command("list")
@workspace_option()
def keys_list(workspace: Path) -> None:
    """List the signer certificates issued in WORKSPACE (revoked ones marked)."""
    from ctpat_audit.trust.keys import list_certs
    from ctpat_audit.ui.terminal import format_certificates

    click.echo(format_certificates(list_certs(workspace)))


@keys.command("revoke")
@workspace_option()
@click.argument("serial")
@CA_PASSPHRASE_ENV
@CA_PASSPHRASE_FILE
def keys_revoke(workspace: Path, serial: str, ca_passphrase_env: str | None,
                ca_passphrase_file: Path | None) -> None:
    """Revoke certificate SERIAL (hex, as `keys list` shows): add it to WORKSPACE/keys/crl.pem."""
    from ctpat_audit.trust.keys import load_ca, revoke

    ca = load_ca(workspace, read_secret(ca_passphrase_env, ca_passphrase_file,
                                        "Workspace CA passphrase"))
    revoke(ca, serial)
    click.echo(f"certificate {serial} revoked (CRL {ca.folder / 'crl.pem'})")


@keys.command("demo")
@workspace_option()
@PASSPHRASE_ENV
@PASSPHRASE_FILE
@CA_PASSPHRASE_ENV
@CA_PASSPHRASE_FILE
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the keys (default WORKSPACE/demo-keys).")
def keys_demo(workspace: Path, passphrase_env: str | None, passphrase_file: Path | None,
              ca_passphrase_env: str | None, ca_passphrase_file: Path | None,
              out: Path | None) -> None:
    """DEMONSTRATION keys: a specialist per validation opener, a supervisor, and the Company
    Officer of each partner with a self-assessment (one passphrase for the keys).

    The CA never uses the keys' passphrase: give its own (--ca-passphrase-env/-file), or a
    new CA gets a random one that is used once and forgotten, so no holder of a demo key can
    issue certificates."""
    from ctpat_audit.trust.signing import demo_keys

    secret = read_secret(passphrase_env, passphrase_file, "Passphrase for the demo keys")
    ca_secret = (read_secret(ca_passphrase_env, ca_passphrase_file, "Workspace CA passphrase")
                 if ca_passphrase_env or ca_passphrase_file else None)
    for who, path in demo_keys(workspace, secret, out_dir=out,
                               ca_passphrase=ca_secret).items():
        click.echo(f"{who:<48} {path}")


@contextmanager
def _signer(ws: Any, report_dir: Path, meaning: str | None, *, key_file: Path | None,
            key_dir: Path | None, passphrase_env: str | None, passphrase_file: Path | None,
            pkcs11_module: str | None, token_label: str | None, key_label: str | None,
            pin_env: str | None, cert_file: Path | None) -> Iterator[Any]:
    """The signer the options name: a token key, the entitled key of a folder, or a .p12."""
    from ctpat_audit.trust.keys import load_signer
    from ctpat_audit.trust.signing import find_signer
    from ctpat_audit.trust.token import token_signer

    if pkcs11_module:
        if not (token_label and key_label and cert_file):
            raise click.UsageError("--pkcs11-module needs --token-label, --key-label, --cert")
        with token_signer(module=pkcs11_module, token_label=token_label, key_label=key_label,
                          pin=read_secret(pin_env, None, "Token PIN"),
                          certificate=cert_file) as signer:
            yield signer
    elif key_dir:
        yield find_signer(key_dir, ws, report_dir, read_secret(
            passphrase_env, passphrase_file, f"Passphrase for the keys in {key_dir}"), meaning)
    elif key_file:
        yield load_signer(key_file, read_secret(passphrase_env, passphrase_file,
                                                f"Passphrase for {key_file}"))
    else:
        raise click.UsageError("give --key FILE.p12, --key-dir DIR, or --pkcs11-module/"
                               "--token-label/--key-label/--cert")


@click.command()
@click.argument("report_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@workspace_option("The workspace the report's session is in (its record gets the signature).")
@click.option("--key-dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Use the first key in this folder entitled to sign the report next (demo "
                   "and batch convenience).")
@click.option("--key", "key_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="The signer's PKCS#12 file (or use --pkcs11-module ... --cert).")
@PASSPHRASE_ENV
@PASSPHRASE_FILE
@click.option("--meaning", type=click.Choice(list(MEANINGS)),
              help="Default: from the certificate's role.")
@PKCS11_MODULE
@TOKEN_LABEL
@KEY_LABEL
@PIN_ENV
@click.option("--cert", "cert_file", type=click.Path(dir_okay=False, exists=True,
                                                     path_type=Path),
              help="The signer's certificate (.pem) for a key in a PKCS#11 token.")
def sign(report_dir: Path, workspace: Path, meaning: str | None, **key_options: Any) -> None:
    """Sign (or countersign) the report in REPORT_DIR: PAdES PDF + signed manifest."""
    from ctpat_audit.trust.signing import sign_report
    from ctpat_audit.workspace.reference import open_workspace

    ws = open_workspace(workspace)
    with _signer(ws, report_dir, meaning, **key_options) as signer:
        entry = sign_report(report_dir, ws, signer, meaning)
    click.echo(f"{entry['label']} {entry['signer']} ({entry['role']}) at {entry['time']}: "
               f"{report_dir} signed")


@click.command()
@click.argument("report_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--trust", type=click.Path(exists=True, path_type=Path), envvar="CTPAT_TRUST",
              show_envvar=True, required=True,
              help="Trust store: WORKSPACE/keys, or the workspace CA's ca.pem file.")
@workspace_option("Also check this workspace's audit log against the head the manifest "
                  "pinned (optional; not needed offline; never read from $CTPAT_WORKSPACE).",
                  required=False, envvar=False)
@click.pass_context
def verify(ctx: click.Context, report_dir: Path, trust: Path, workspace: Path | None) -> None:
    """Verify a signed report folder offline; exit 1 on any failure."""
    from ctpat_audit.trust.verify import verify_report

    report = verify_report(report_dir, trust, workspace)
    click.echo(report.text())
    if not report.ok:
        ctx.exit(EXIT_ERROR)
