"""The ``ctpat-audit`` command line: a thin click group over the Python API.

Commands only parse options and call the API; options map one-to-one to API arguments.
Every :class:`~ctpat_audit.core.errors.CtpatError` becomes a plain message and exit code 2
(intake problems: a table of every problem, exit code 3).
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from ctpat_audit.core import clock
from ctpat_audit.core.errors import CtpatError, IntakeError


class _Group(click.Group):
    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except IntakeError as exc:
            from ctpat_audit.intake.importer import print_problems

            print_problems(exc, stream=sys.stderr)
            sys.exit(3)
        except CtpatError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.version_option(package_name="ctpat-audit")
def main() -> None:
    """Audit and validation toolkit for the CBP CTPAT program."""


WORKSPACE = click.argument("workspace", type=click.Path(file_okay=False, path_type=Path))


# -- workspace and intake (issue 2) -----------------------------------------------------
@main.command()
@WORKSPACE
def init(workspace: Path) -> None:
    """Create a workspace folder (SQLite records, Parquet exams, evidence, keys)."""
    from ctpat_audit.workspace.reference import init_workspace

    ws = init_workspace(workspace)
    click.echo(f"workspace ready: {ws.path}")


@main.command("import")
@WORKSPACE
@click.argument("source", type=click.Path(exists=False, path_type=Path))
@click.option("--problems", "problems_xlsx", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write every problem found to this .xlsx file.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def import_(workspace: Path, source: Path, problems_xlsx: Path | None, quiet: bool) -> None:
    """Import SOURCE (a folder of CSV/Excel/Parquet files, or one workbook), all or nothing."""
    from ctpat_audit.core.errors import IntakeError as _IntakeError
    from ctpat_audit.intake.importer import import_source, write_problems_xlsx
    from ctpat_audit.workspace.reference import open_workspace

    ws = open_workspace(workspace)
    try:
        summary = import_source(ws, source, progress=not quiet)
    except _IntakeError as exc:
        if problems_xlsx:
            write_problems_xlsx(exc.problems, problems_xlsx)
            click.echo(f"problems written to {problems_xlsx}", err=True)
        raise
    for table, n in summary.rows.items():
        click.echo(f"{table:>18}: {n:,} rows")
    click.echo(f"imported {source} into {ws.path} (source sha256 {summary.source_sha256[:16]}...)")


@main.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--partners", default=200, show_default=True, help="Number of partners.")
@click.option("--seed", default=7, show_default=True, help="Random seed (same seed, same data).")
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Date the sample is 'now' (default 2026-11-01).")
@click.option("--shipments-per-partner", default=250.0, show_default=True)
def sample(out: Path, partners: int, seed: int, as_of, shipments_per_partner: float) -> None:
    """Write a realistic synthetic source folder to OUT (deterministic for a seed)."""
    from ctpat_audit.demo.sample_data import write_sample

    write_sample(out, partners=partners, seed=seed, as_of=as_of.date() if as_of else None,
                 shipments_per_partner=shipments_per_partner, progress=True)
    click.echo(f"sample source written to {out}")


# -- security-profile review (issue 3) ------------------------------------------------------
@main.command()
@WORKSPACE
@click.argument("account_id", required=False)
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Review date (default today).")
@click.option("--catalogue-version", default=None, help="Criteria catalogue version (default: the built-in).")
@click.option("--xlsx", type=click.Path(dir_okay=False, path_type=Path), help="Also write a workbook.")
@click.option("--limit", default=40, show_default=True, help="Rows to print for the portfolio.")
def review(workspace: Path, account_id: str | None, as_of, catalogue_version: str | None,
           xlsx: Path | None, limit: int) -> None:
    """Security-profile review of one partner, or of the whole portfolio (overdue first)."""

    from ctpat_audit.criteria.catalogue import load_catalogue
    from ctpat_audit.analysis.review import format_partner_review, review_partner, review_portfolio, write_review_xlsx
    from ctpat_audit.workspace.reference import open_workspace

    ws = open_workspace(workspace)
    cat = load_catalogue(catalogue_version, workspace=ws.path)
    day = as_of.date() if as_of else clock.today()
    if account_id:
        r = review_partner(ws.partner(account_id), cat, day)
        click.echo(format_partner_review(r))
        if xlsx:
            write_review_xlsx(xlsx, partner=r)
    else:
        frame = review_portfolio(ws, cat, day)
        click.echo(f"security-profile review as of {day} - catalogue {cat.version}: {cat.label}")
        counts = frame["review_status"].value_counts()
        click.echo(", ".join(f"{k}: {v}" for k, v in counts.items()))
        cols = ["account_id", "legal_name", "status", "review_status", "days_overdue", "blank",
                "must_not_addressed", "risk", "reasons"]
        with __import__("pandas").option_context("display.width", 200, "display.max_colwidth", 60):
            click.echo(frame[cols].head(limit).to_string(index=False))
        if xlsx:
            write_review_xlsx(xlsx, portfolio=frame, label=f"as of {day}, {cat.label}")
    if xlsx:
        click.echo(f"workbook written to {xlsx}")


# -- catalogue (issue 3): list / export criteria, import CBP's official tables ----------------

_CATALOGUE_WS = click.option(
    "--workspace", type=click.Path(file_okay=False, path_type=Path), default=None,
    envvar="CTPAT_WORKSPACE",
    help="Workspace holding imported catalogues (WORKSPACE/catalogues/<version>.json).")


@main.group("catalogue", invoke_without_command=True)
@click.option("--version", "version", default=None,
              help="Catalogue version (default: the built-in demonstration, demo-2019.11).")
@_CATALOGUE_WS
@click.option("--entity", "entity_types", multiple=True, metavar="TYPE",
              help="Business entity type (repeat for an expanded profile: the union, strictest "
                   "Must/Should). Default: every criterion with its levels per type.")
@click.option("--xlsx", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the criteria to this workbook instead of printing them.")
@click.pass_context
def catalogue(ctx: click.Context, version: str | None, workspace: Path | None,
              entity_types: tuple[str, ...], xlsx: Path | None) -> None:
    """List or export the criteria of a catalogue; `catalogue import` reads CBP's tables."""
    if ctx.invoked_subcommand is not None:
        return
    from ctpat_audit.criteria.catalogue import check_entity_types, load_catalogue, write_xlsx

    cat = load_catalogue(version, workspace=workspace)
    types = check_entity_types(entity_types) if entity_types else None
    click.echo(f"{cat.label}")
    click.echo(f"catalogue {cat.version} ({cat.provenance})"
               + (f"; entity types: {', '.join(types)}" if types else "; all entity types"))
    if xlsx:
        write_xlsx(cat, xlsx, types)
        click.echo(f"workbook written to {xlsx}")
        return
    frame = cat.frame(types)
    counts = frame["must_should"].value_counts() if types else None
    category = None
    for row in frame.itertuples(index=False):
        if row.category != category:
            category = row.category
            click.echo(f"\n{row.category}. {row.category_name} ({row.focus_area})")
        if types:
            level = row.must_should
        else:  # levels per entity type, counted: "M:7 S:3"
            levels = [part.split(": ")[1] for part in row.must_should.split("; ")]
            level = f"M:{levels.count('Must')} S:{levels.count('Should')}"
        mark = "" if row.provenance == cat.provenance else f" [{row.provenance}]"
        click.echo(f"  {row.id:<6} {level:<7} {row.requirement}{mark}")
    summary = f"\n{len(frame)} criteria"
    if counts is not None:
        summary += " (" + ", ".join(f"{k}: {n}" for k, n in counts.items()) + ")"
    click.echo(summary + (f" - {cat.label}" if cat.is_demonstration else ""))


@catalogue.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--entity", "entity_type", required=True, metavar="TYPE",
              help="The business entity type whose table FILE is (e.g. importer, sea_carrier).")
@click.option("--version", "version", required=True,
              help="Catalogue version to create or merge into (e.g. 2019.11-official).")
@click.option("--workspace", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              envvar="CTPAT_WORKSPACE", show_default=True,
              help="Workspace to store the catalogue in (WORKSPACE/catalogues/<version>.json).")
def catalogue_import(file: Path, entity_type: str, version: str, workspace: Path) -> None:
    """Import one entity type's official CBP criteria table (.pdf, .xlsx or .csv).

    Importing another entity's table with the same --version merges it into one catalogue.
    Any problem (bad id, wrong category, Must/Should missing or unknown, duplicates) is listed
    with its location and nothing is written.
    """
    from ctpat_audit.criteria.catalogue import workspace_path
    from ctpat_audit.criteria.official_import import import_criteria_table

    cat = import_criteria_table(file, entity_type, version, workspace)
    mine = cat.applicable([entity_type])
    musts = sum(c.must_should[entity_type] == "Must" for c in mine)
    click.echo(f"imported {len(mine)} criteria for {entity_type} ({musts} Must, "
               f"{len(mine) - musts} Should) from {file.name} into catalogue {cat.version}")
    click.echo(f"catalogue {cat.version}: {len(cat.criteria)} criteria for "
               f"{', '.join(cat.imported_tables)} -> {workspace_path(version, workspace)}")


@catalogue.command("crosswalk")
@click.argument("from_version")
@click.argument("to_version")
@_CATALOGUE_WS
def catalogue_crosswalk(from_version: str, to_version: str, workspace: Path | None) -> None:
    """Map criterion ids from one catalogue version to another (same id, or a crosswalk file)."""
    from ctpat_audit.criteria.catalogue import crosswalk, load_catalogue, load_crosswalk

    df = crosswalk(load_catalogue(from_version, workspace), load_catalogue(to_version, workspace),
                   load_crosswalk(from_version, to_version, workspace))
    click.echo(df.to_string(index=False))


@main.command("sessions")
@WORKSPACE
@click.option("--account", "account_id", default=None, help="Only this partner's sessions.")
@click.option("--status", default=None,
              type=click.Choice(["open", "submitted", "signed", "superseded"]))
@click.option("--kind", default=None, type=click.Choice(["validation", "self_assessment"]))
def sessions_(workspace: Path, account_id: str | None, status: str | None,
              kind: str | None) -> None:
    """List validation and self-assessment sessions, newest first."""
    from ctpat_audit.sessions.session import list_sessions

    frame = list_sessions(workspace, account_id=account_id, status=status, kind=kind)
    cols = ["session_id", "account_id", "kind", "mode", "status", "opened_by", "opened_at",
            "catalogue_version", "supersedes"]
    click.echo(frame[cols].to_string(index=False) if len(frame) else "no sessions")


@main.command("audit-verify")
@WORKSPACE
@click.option("--expected-head", default=None, metavar="HASH",
              help="A head hash pinned earlier (e.g. in a signed report) that must still be there.")
def audit_verify(workspace: Path, expected_head: str | None) -> None:
    """Check the workspace's hash-chained audit log end to end; exit 1 if it was tampered with."""
    from ctpat_audit.workspace.audit import verify_audit_log
    from ctpat_audit.sessions.session import connect_store

    _, conn = connect_store(workspace)
    try:
        result = verify_audit_log(conn, expected_head=expected_head)
    finally:
        conn.close()
    click.echo(str(result))
    for p in result.problems[:50]:
        click.echo(f"  seq {p.seq}: {p.code}: {p.detail}", err=True)
    if not result.ok:
        sys.exit(1)


@main.command()
def formats() -> None:
    """Print the data format of every source table (Markdown, as in the README)."""
    from ctpat_audit.workspace.tables import formats_markdown

    click.echo(formats_markdown(), nl=False)


# -- keys, signing and verification (issue 7) -------------------------------------------------
def _secret(env: str | None, file: Path | None, prompt: str, confirm: bool = False) -> str:
    """A passphrase from an environment variable, a file (first line) or a hidden prompt;
    never from a command-line argument in clear."""
    import os

    if env:
        if env not in os.environ:
            raise click.UsageError(f"environment variable {env} is not set")
        return os.environ[env]
    if file:
        return file.read_text(encoding="utf-8").splitlines()[0] if file.stat().st_size else ""
    return click.prompt(prompt, hide_input=True, confirmation_prompt=confirm)


_PASS_ENV = click.option("--passphrase-env", metavar="VAR",
                         help="Read the key passphrase from this environment variable.")
_PASS_FILE = click.option("--passphrase-file", type=click.Path(dir_okay=False, path_type=Path),
                          help="Read the key passphrase from the first line of this file.")
_CA_ENV = click.option("--ca-passphrase-env", metavar="VAR",
                       help="Read the workspace CA passphrase from this environment variable.")
_CA_FILE = click.option("--ca-passphrase-file", type=click.Path(dir_okay=False, path_type=Path),
                        help="Read the workspace CA passphrase from the first line of this file.")


_P11_MODULE = click.option("--pkcs11-module", metavar="LIB",
                           help="PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so).")
_P11_TOKEN = click.option("--token-label", help="PKCS#11 token label.")
_P11_KEY = click.option("--key-label", help="Label of the key in the token.")
_P11_PIN = click.option("--pin-env", metavar="VAR",
                        help="Read the token PIN from this environment variable (else prompt).")


@main.group()
def keys() -> None:
    """Signer keys and the workspace certificate authority (WORKSPACE/keys)."""


@keys.command("new")
@WORKSPACE
@click.option("--name", required=True, help="Printed name of the signer.")
@click.option("--email", required=True, help="E-mail (must match the session/contact e-mail).")
@click.option("--role", required=True,
              type=click.Choice(["specialist", "supervisor", "company_officer"]))
@click.option("--account", "account_id", default=None,
              help="Partner account id (Company Officers only).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="PKCS#12 file to write (default: ./<email>.p12, characters other than "
                   "letters, digits and @+._- as _); with --pkcs11-module the certificate "
                   ".pem (default: ./<email>.pem).")
@_PASS_ENV
@_PASS_FILE
@_CA_ENV
@_CA_FILE
@_P11_MODULE
@_P11_TOKEN
@_P11_KEY
@_P11_PIN
def keys_new(workspace: Path, name: str, email: str, role: str, account_id: str | None,
             out: Path | None, passphrase_env: str | None, passphrase_file: Path | None,
             ca_passphrase_env: str | None, ca_passphrase_file: Path | None,
             pkcs11_module: str | None, token_label: str | None, key_label: str | None,
             pin_env: str | None) -> None:
    """Create a P-256 signer key + certificate issued by the workspace CA (created if new).

    The key goes into an encrypted PKCS#12 file, or (--pkcs11-module) is generated inside a
    PKCS#11 token and only the certificate is written.
    """
    from ctpat_audit.trust.keys import init_ca, issue_signer, key_file_name

    key_file_name(email)  # an e-mail that is not one is refused before anything is asked
    ca_secret = _secret(ca_passphrase_env, ca_passphrase_file, "Workspace CA passphrase",
                        confirm=not (workspace / "keys" / "ca.pem").exists())
    ca = init_ca(workspace, ca_secret)
    if pkcs11_module:
        from cryptography.hazmat.primitives.serialization import Encoding

        from ctpat_audit.trust.keys import issue_certificate, pkcs11_new_key, pkcs11_session

        if not (token_label and key_label):
            raise click.UsageError("--pkcs11-module needs --token-label and --key-label")
        with pkcs11_session(pkcs11_module, token_label,
                            _secret(pin_env, None, "Token PIN")) as session:
            public = pkcs11_new_key(session, key_label)
        cert = issue_certificate(ca, public, name, email, role, account_id)
        out = out or key_file_name(email, ".pem")
        out.write_bytes(cert.public_bytes(Encoding.PEM))
        click.echo(f"key {key_label!r} generated in token {token_label!r}; certificate for "
                   f"{name} <{email}> ({role}) written to {out}; serial {cert.serial_number:x}")
        return
    secret = _secret(passphrase_env, passphrase_file, f"Passphrase for {email}'s key",
                     confirm=True)
    out = out or key_file_name(email)
    cert = issue_signer(ca, out, secret, name=name, email=email, role=role,
                        account_id=account_id)
    click.echo(f"key for {name} <{email}> ({role}{' ' + account_id if account_id else ''}) "
               f"written to {out}; certificate serial {cert.serial_number:x}")


@keys.command("list")
@WORKSPACE
def keys_list(workspace: Path) -> None:
    """List the signer certificates issued in WORKSPACE (revoked ones marked)."""
    from ctpat_audit.trust.keys import list_certs

    rows = list_certs(workspace)
    for r in rows:
        flag = "REVOKED" if r["revoked"] else "valid  "
        acct = f" partner {r['account_id']}" if r["account_id"] else ""
        click.echo(f"{flag} {r['serial']:<42} {r['role']:<16} {r['name']} <{r['email']}>{acct}"
                   f" until {r['not_after'][:10]}")
    click.echo(f"{len(rows)} certificate(s)")


@keys.command("revoke")
@WORKSPACE
@click.argument("serial")
@_CA_ENV
@_CA_FILE
def keys_revoke(workspace: Path, serial: str, ca_passphrase_env: str | None,
                ca_passphrase_file: Path | None) -> None:
    """Revoke certificate SERIAL (hex, as `keys list` shows): add it to WORKSPACE/keys/crl.pem."""
    from ctpat_audit.trust.keys import load_ca, revoke

    ca = load_ca(workspace, _secret(ca_passphrase_env, ca_passphrase_file,
                                    "Workspace CA passphrase"))
    revoke(ca, serial)
    click.echo(f"certificate {serial} revoked (CRL {workspace / 'keys' / 'crl.pem'})")


@keys.command("demo")
@WORKSPACE
@_PASS_ENV
@_PASS_FILE
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the keys (default WORKSPACE/demo-keys).")
def keys_demo(workspace: Path, passphrase_env: str | None, passphrase_file: Path | None,
              out: Path | None) -> None:
    """DEMONSTRATION keys: a specialist per validation opener, a supervisor, and the Company
    Officer of each partner with a self-assessment (one passphrase for all, CA included)."""
    from ctpat_audit.trust.signing import demo_keys

    secret = _secret(passphrase_env, passphrase_file, "Passphrase for the demo keys")
    for who, path in demo_keys(workspace, secret, out_dir=out).items():
        click.echo(f"{who:<48} {path}")


@main.command()
@click.argument("report_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--workspace", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--key-dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=None, help="Use the first key in this folder entitled to sign the "
                                 "report next (demo and batch convenience).")
@click.option("--key", "key_file", default=None,
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="The signer's PKCS#12 file (or use --pkcs11-module ... --cert).")
@_PASS_ENV
@_PASS_FILE
@click.option("--meaning", type=click.Choice(["validated", "approved", "submitted"]),
              default=None, help="Default: from the certificate's role.")
@_P11_MODULE
@_P11_TOKEN
@_P11_KEY
@_P11_PIN
@click.option("--cert", "cert_file", type=click.Path(dir_okay=False, exists=True,
                                                     path_type=Path),
              help="The signer's certificate (.pem) for a key in a PKCS#11 token.")
def sign(report_dir: Path, workspace: Path, key_dir: Path | None, key_file: Path | None,
         passphrase_env: str | None,
         passphrase_file: Path | None, meaning: str | None, pkcs11_module: str | None,
         token_label: str | None, key_label: str | None, pin_env: str | None,
         cert_file: Path | None) -> None:
    """Sign (or countersign) the report in REPORT_DIR: PAdES PDF + signed manifest."""
    from ctpat_audit.trust.keys import load_signer
    from ctpat_audit.trust.signing import sign_report
    from ctpat_audit.workspace.reference import open_workspace

    ws = open_workspace(workspace)
    if pkcs11_module:
        from cryptography import x509

        from ctpat_audit.trust.keys import pkcs11_session, pkcs11_signer

        if not (token_label and key_label and cert_file):
            raise click.UsageError("--pkcs11-module needs --token-label, --key-label, --cert")
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        with pkcs11_session(pkcs11_module, token_label,
                            _secret(pin_env, None, "Token PIN")) as session:
            entry = sign_report(report_dir, ws, pkcs11_signer(session, cert,
                                                              key_label=key_label), meaning)
    elif key_dir:
        from ctpat_audit.trust.signing import find_signer

        signer = find_signer(key_dir, ws, report_dir, _secret(
            passphrase_env, passphrase_file, f"Passphrase for the keys in {key_dir}"), meaning)
        entry = sign_report(report_dir, ws, signer, meaning)
    elif key_file:
        signer = load_signer(key_file, _secret(passphrase_env, passphrase_file,
                                               f"Passphrase for {key_file}"))
        entry = sign_report(report_dir, ws, signer, meaning)
    else:
        raise click.UsageError("give --key FILE.p12 or --pkcs11-module/--token-label/"
                               "--key-label/--cert")
    click.echo(f"{entry['label']} {entry['signer']} ({entry['role']}) at {entry['time']}: "
               f"{report_dir} signed")


@main.command()
@click.argument("report_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--trust", type=click.Path(exists=True, path_type=Path), default=None,
              help="Trust store: WORKSPACE/keys or the CA .pem file (default: the "
                   "CTPAT_TRUST environment variable).", envvar="CTPAT_TRUST", required=True)
@click.option("--workspace", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=None, help="Also check this workspace's audit log against the head "
                                 "hash the manifest pinned (optional; not needed offline).")
def verify(report_dir: Path, trust: Path, workspace: Path | None) -> None:
    """Verify a signed report folder offline; exit 1 on any failure."""
    from ctpat_audit.trust.verify import verify_report

    report = verify_report(report_dir, trust, workspace)
    click.echo(report.text())
    if not report.ok:
        sys.exit(1)


# -- JupyterLab / Voila for specialists and partners (issue 5) ----------------------------
@main.command()
@WORKSPACE
@click.option("--account", "account_id", default=None, help="Partner account id to open.")
@click.option("--user", default=None, help="Specialist (or, with --voila, contact e-mail).")
@click.option("--port", type=int, default=None, help="Port on 127.0.0.1 (default: a free one).")
@click.option("--no-browser", is_flag=True, help="Only print the URL.")
@click.option("--voila", is_flag=True,
              help="Serve the self-assessment notebook with Voila (no code shown).")
def lab(workspace: Path, account_id: str | None, user: str | None, port: int | None,
        no_browser: bool, voila: bool) -> None:
    """Start JupyterLab (or Voila) on 127.0.0.1 with a random token and open the notebook."""
    import webbrowser

    from ctpat_audit.server.lab import start_lab, start_voila

    start = start_voila if voila else start_lab
    server = start(workspace, account_id, user=user, port=port)
    click.echo(f"{'Voila' if voila else 'JupyterLab'} is running (workspace {workspace}).")
    click.echo(f"Open: {server.url}")
    click.echo("Press Ctrl-C to stop.")
    if not no_browser:
        webbrowser.open(server.url)
    try:
        server.process.wait()
    except KeyboardInterrupt:
        click.echo("stopping ...")
    finally:
        server.stop()


# -- supervisor batch (issue 8) -----------------------------------------------------------
@main.command()
@WORKSPACE
@click.option("--status", default="submitted,signed", show_default=True,
              help="Session status(es) to select, comma-separated (open, submitted, signed, "
              "superseded).")
@click.option("--since", default=None, help="First day (YYYY-MM-DD) the session was submitted.")
@click.option("--until", default=None, help="Last day (YYYY-MM-DD) the session was submitted.")
@click.option("--partners", "partners_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="File of partner account ids, one a line.")
@click.option("--region", default=None,
              help="COUNTRY[/STATE[/CITY]] of one of the partner's facilities, e.g. MX/NL.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"),
              show_default=True, help="Output folder (reports, manifest and index).")
@click.option("--workers", type=int, default=2, show_default=True,
              help="Local worker processes (0: run in this process).")
@click.option("--retry-failed", is_flag=True, help="Also re-run reports whose last run failed.")
@click.option("--force", is_flag=True, help="Re-run every selected report, also rendering "
              "again reports already signed in OUT (otherwise countersigned as they are).")
@click.option("--scheduler", default=None,
              help="Dask scheduler address (tcp://HOST:8786) instead of the local pool.")
@click.option("--key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Supervisor's PKCS#12 key: countersigns each report 'approved'.")
@click.option("--specialist-keys", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Folder of specialists' keys: sign 'validated' first "
              "(demonstration and benchmark flows).")
@click.option("--passphrase-env", default=None,
              help="Environment variable holding the key passphrase.")
@click.option("--template", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Report notebook (default templates/report.ipynb).")
@click.option("--kernels", "kernel_pool", type=int, default=1, show_default=True,
              help="Warm kernels kept ready per worker.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--artifacts", default=None, hidden=True,
              help="MODULE:FUNCTION rendering HTML/PDF/Excel (default: the report module).")
@click.option("--kernel-warmup", default=None, hidden=True,
              help="Code each kernel runs before use (default: pandas, matplotlib, ours).")
def batch(workspace: Path, status: str, since: str | None, until: str | None,
          partners_file: Path | None, region: str | None, out: Path, workers: int,
          retry_failed: bool, force: bool, scheduler: str | None, key: Path | None,
          specialist_keys: Path | None, passphrase_env: str | None, template: Path | None,
          kernel_pool: int, no_progress: bool, artifacts: str | None,
          kernel_warmup: str | None) -> None:
    """Render, countersign and verify the reports of many sessions; write OUT/index.html."""
    from ctpat_audit.batch.run import read_partner_file, run_batch

    summary = run_batch(
        workspace, out=out, template=template, status=status or None, since=since, until=until,
        partners=read_partner_file(partners_file) if partners_file else None, region=region,
        workers=workers, retry_failed=retry_failed, force=force, scheduler=scheduler, key=key,
        specialist_keys=specialist_keys, passphrase_env=passphrase_env,
        kernel_pool=kernel_pool, progress=not no_progress, artifacts=artifacts,
        kernel_warmup=kernel_warmup)
    click.echo(f"{summary.selected} selected, {summary.ran} run ({summary.ok} ok, "
               f"{summary.failed} failed), {summary.skipped} up to date or kept failed; "
               f"{summary.wall_s:.1f} s")
    for r in summary.results:
        if r.status != "ok":
            cell = f" cell {r.failed_cell}" if r.failed_cell is not None else ""
            first = (r.error.strip().splitlines() or [""])[0]
            click.echo(f"FAILED {r.account_id}/{r.session_id} at {r.step}{cell}: {first}",
                       err=True)
    click.echo(f"index: {summary.index_html}")
    click.echo(f"workbook: {summary.index_xlsx}")
    if summary.failed:
        sys.exit(1)


# -- supervisors' portfolio (issue 4) -----------------------------------------------------
@main.command()
@WORKSPACE
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Date the portfolio is computed for (default today).")
@click.option("--xlsx", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write a formatted workbook (one sheet per table).")
@click.option("--catalogue-version", default=None,
              help="Criteria catalogue version (default: the built-in).")
@click.option("--due-within", "due_within_days", default=90, show_default=True,
              help="Days ahead a validation counts as due soon (backlog).")
@click.option("--baseline", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="Non-CTPAT exam-rate baseline (.csv/.xlsx; default: sample).")
@click.option("--limit", default=10, show_default=True, help="Rows to print per table.")
def portfolio(workspace: Path, as_of, xlsx: Path | None, catalogue_version: str | None,
              due_within_days: int, baseline: Path | None, limit: int) -> None:
    """Supervisors' portfolio: validations due, backlog by region, in-person vs virtual,
    suspension candidates, exam rates by port."""

    from ctpat_audit.criteria.catalogue import load_catalogue
    from ctpat_audit.analysis.portfolio import portfolio as build
    from ctpat_audit.ui.portfolio_view import format_portfolio, write_portfolio_xlsx
    from ctpat_audit.workspace.reference import open_workspace

    ws = open_workspace(workspace)
    cat = load_catalogue(catalogue_version, workspace=ws.path)
    day = as_of.date() if as_of else clock.today()
    p = build(ws, day, cat, due_within_days=due_within_days, baseline=baseline)
    click.echo(format_portfolio(p, limit=limit))
    if xlsx:
        write_portfolio_xlsx(p, xlsx)
        click.echo(f"\nworkbook written to {xlsx}")


# -- offline questionnaire (issue 6) -------------------------------------------------------
@main.group()
def questionnaire() -> None:
    """Offline self-assessment in Excel: export for a partner, import the filled workbook."""


@questionnaire.command("export")
@WORKSPACE
@click.argument("account_id")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--catalogue-version", default=None)
def questionnaire_export(workspace: Path, account_id: str, out: Path, catalogue_version: str | None) -> None:
    """Write ACCOUNT_ID's applicable criteria to a protected workbook with answer cells."""
    from ctpat_audit.sessions.questionnaire import export_questionnaire
    from ctpat_audit.workspace.reference import open_workspace

    path = export_questionnaire(open_workspace(workspace), account_id, out, catalogue_version=catalogue_version)
    click.echo(f"questionnaire written to {path}")


@questionnaire.command("import")
@WORKSPACE
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--contact", required=True, help="E-mail of the partner contact who filled it in.")
def questionnaire_import(workspace: Path, file: Path, contact: str) -> None:
    """Import a filled questionnaire as a self-assessment session (all or nothing)."""
    from ctpat_audit.sessions.questionnaire import import_questionnaire
    from ctpat_audit.workspace.reference import open_workspace

    r = import_questionnaire(open_workspace(workspace), file, contact)
    click.echo(f"self-assessment {r.session_id} for {r.account_id}: {r.answered} answered, {r.blank} left blank")


# -- reports (issue 6) ---------------------------------------------------------------------
@main.command("report")
@WORKSPACE
@click.option("--session", "session_ids", required=True, multiple=True,
              help="Session id (repeat for several; one browser serves them all).")
@click.option("--out", "out", default=Path("reports"), show_default=True,
              type=click.Path(file_okay=False, path_type=Path))
@click.option("--format", "formats", multiple=True, default=("ipynb", "html", "pdf", "xlsx"),
              show_default=True, type=click.Choice(["ipynb", "html", "pdf", "xlsx"]))
@click.option("--paper", type=click.Choice(["A4", "Letter"]), default="A4", show_default=True)
@click.option("--as-of", default=None, help="Report date YYYY-MM-DD (default: submission date).")
@click.option("--due-days", default=90, show_default=True,
              help="Days after the report date a Requirement is due.")
def report_cmd(workspace: Path, session_ids: tuple[str, ...], out: Path,
               formats: tuple[str, ...], paper: str, as_of: str | None, due_days: int) -> None:
    """Render a session's report to OUT/<account>/<session>/report.{ipynb,html,pdf,xlsx}."""
    from ctpat_audit.reports.pipeline import Renderer

    with Renderer(workspace, out, formats=formats, paper=paper, as_of=as_of,
                  due_days=due_days) as r:
        for sid in session_ids:
            click.echo(f"report written to {r.render(sid)}")


@main.command("sample-sessions")
@WORKSPACE
@click.option("--validations", default=5, show_default=True)
@click.option("--self-assessments", default=3, show_default=True)
@click.option("--seed", default=7, show_default=True)
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Date the sessions are answered before (default today).")
def sample_sessions_cmd(workspace: Path, validations: int, self_assessments: int, seed: int,
                        as_of) -> None:
    """Add submitted sample validations and self-assessments to a workspace (demo material)."""

    from ctpat_audit.demo.sample_sessions import write_sample_sessions

    day = as_of.date() if as_of else clock.today()
    ids = write_sample_sessions(workspace, validations, self_assessments, seed, day)
    for kind, values in ids.items():
        click.echo(f"{kind}: {' '.join(values) or '-'}")
