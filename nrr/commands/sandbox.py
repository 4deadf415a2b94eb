"""``nrr sandbox serve``: local Salesforce, HubSpot and Stripe APIs seeded with a synthetic book."""

from __future__ import annotations

from pathlib import Path

import click

SERVE_HELP = """Serve local Salesforce, HubSpot and Stripe APIs seeded with a synthetic book.

\b
Binds only to 127.0.0.1. Salesforce is HTTPS with a certificate from a CA made
at start: point clients at the printed CA file (never turn verification off).
Prints each base URL and working credentials, then runs until Ctrl-C.

\b
Faults and call counts, per server:
  curl -X POST URL/__sandbox/faults -d '{"rate_limit_burst": 3}'   (add --cacert CA for https)
  curl URL/__sandbox/stats
Fault settings: latency_ms, after, rate_limit_burst, server_error_burst,
reset_burst, session_expiry_burst, slow_burst, slow_seconds, malformed_burst,
request_budget.

\b
Example:
  nrr sandbox serve --accounts 300 --port-base 8700
"""


def register(group: click.Group) -> None:
    group.add_command(sandbox_group)


@click.group("sandbox")
def sandbox_group() -> None:
    """Local vendor API emulators for demos and tests."""


@sandbox_group.command("serve", help=SERVE_HELP)
@click.option("--accounts", default=300, show_default=True, type=click.IntRange(min=1),
              help="Number of accounts in the synthetic book.")
@click.option("--seed", default=7, show_default=True, type=int, help="Seed of the synthetic book.")
@click.option("--port-base", type=click.IntRange(1024, 65533), default=None,
              help="Salesforce on P, HubSpot on P+1, Stripe on P+2 (default: free ports).")
@click.option("--tls-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write the CA certificate here (kept after exit) instead of a temporary directory.")
def serve(accounts: int, seed: int, port_base: int | None, tls_dir: Path | None) -> None:
    from connectors.sandbox.app import serve_until_interrupted
    from connectors.sandbox.book import generate_book

    click.echo(f"Generating a {accounts}-account book (seed {seed})...", err=True)
    book = generate_book(accounts=accounts, seed=seed)
    try:
        serve_until_interrupted(book, port_base=port_base, tls_dir=tls_dir, on_ready=_print_ready)
    except OSError as exc:
        raise click.ClickException(f"could not start the sandbox: {exc} (is --port-base in use? "
                                   "omit it to use free ports)") from exc
    click.echo("Sandbox stopped.", err=True)


def _print_ready(sandbox) -> None:
    """URLs, CA file and credentials (all local sandbox values, nothing real)."""
    click.echo(f"NRR sandbox: {len(sandbox.book.accounts)} accounts, as of {sandbox.book.as_of}")
    click.echo(f"CA certificate: {sandbox.ca_path}")
    credentials = sandbox.credentials
    for name, url in sandbox.urls.items():
        click.echo(f"\n[{name}]  {url}")
        for key, value in credentials.get(name, {}).items():
            click.echo(f"  {key} = {value}")
    click.echo("\nControl: POST <url>/__sandbox/faults (JSON), GET <url>/__sandbox/stats. Ctrl-C to stop.")
