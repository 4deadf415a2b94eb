"""Project directory, nrr.toml validation, credentials resolution and masking, CLI basics."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from nrr import credentials as creds
from nrr.cli import cli
from nrr.config import load
from nrr.errors import ConfigError, ProjectNotFound
from nrr.project import find_project, init_project

SECRET = "sk_test_do_not_print_me_4242"


def run(*args: str, env: dict | None = None, cwd: Path | None = None):
    runner = CliRunner()
    old = os.getcwd()
    try:
        if cwd:
            os.chdir(cwd)
        return runner.invoke(cli, list(args), env=env or {}, catch_exceptions=False)
    finally:
        os.chdir(old)


def test_init_writes_project_files_with_private_credentials(tmp_path):
    written = init_project(tmp_path / "acme")
    names = sorted(p.name for p in written)
    assert names == [".gitignore", "credentials.toml", "nrr.toml"]
    mode = stat.S_IMODE((tmp_path / "acme" / "credentials.toml").stat().st_mode)
    assert mode == 0o600
    ignore = (tmp_path / "acme" / ".gitignore").read_text()
    assert "credentials.toml" in ignore and ".nrr/" in ignore
    cfg = load(tmp_path / "acme" / "nrr.toml")  # the commented template is valid as written
    assert cfg.revenue.source == "files" and cfg.revenue.reporting_currency == "USD"


def test_init_does_not_overwrite(tmp_path):
    init_project(tmp_path)
    (tmp_path / "nrr.toml").write_text("[project]\nname = 'Kept'\n")
    assert init_project(tmp_path) == []
    assert "Kept" in (tmp_path / "nrr.toml").read_text()


def test_project_found_from_flag_env_and_parents(tmp_path, monkeypatch):
    init_project(tmp_path / "p")
    nested = tmp_path / "p" / "a" / "b"
    nested.mkdir(parents=True)
    monkeypatch.delenv("NRR_PROJECT", raising=False)
    assert find_project(cwd=nested) == (tmp_path / "p").resolve()
    monkeypatch.setenv("NRR_PROJECT", str(tmp_path / "p"))
    assert find_project(cwd=Path("/")) == (tmp_path / "p").resolve()
    assert find_project(tmp_path / "p") == (tmp_path / "p").resolve()
    monkeypatch.delenv("NRR_PROJECT")
    with pytest.raises(ProjectNotFound, match="nrr init"):
        find_project(cwd=tmp_path)


@pytest.mark.parametrize(
    "toml,fragment",
    [
        ("[revenue]\nsource = 'excel'\n", "nrr.toml: revenue.source: Input should be 'files', 'stripe', 'salesforce' or 'hubspot'"),
        ("[revenue]\nreporting_currency = 'dollars'\n", "nrr.toml: revenue.reporting_currency"),
        ("[revenue.fx_rates]\nEUR = -1\n", "nrr.toml: revenue.fx_rates"),
        ("[revenue]\ncurency = 'USD'\n", "nrr.toml: revenue.curency: unknown setting"),
        ("[reportz]\n", "unknown table [reportz]"),
        ("[sources.quickbooks]\nenabled = true\n", "unknown source [sources.quickbooks]"),
        ("[revenue\n", "not valid TOML"),
        ("[project]\nmemory_limit = 'lots'\n", 'nrr.toml: project.memory_limit: Value error, expected a size such as "4GB"'),
    ],
)
def test_config_errors_name_file_key_and_expectation(tmp_path, toml, fragment):
    path = tmp_path / "nrr.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load(path)
    assert fragment in str(info.value)


def test_credentials_resolve_literal_env_and_file(tmp_path, monkeypatch):
    (tmp_path / "token.txt").write_text(SECRET + "\n")
    path = tmp_path / "credentials.toml"
    path.write_text(
        '[stripe]\napi_key = { file = "token.txt" }\n'
        '[hubspot]\naccess_token = { env = "HS_TOKEN_FOR_TEST" }\n'
        '[salesforce]\nusername = "ops@example.com"\npassword = "hunter2"\n'
    )
    monkeypatch.setenv("HS_TOKEN_FOR_TEST", "pat-na1-abc")
    assert creds.resolve(path, "stripe", tmp_path) == {"api_key": SECRET}
    assert creds.resolve(path, "hubspot", tmp_path) == {"access_token": "pat-na1-abc"}
    monkeypatch.delenv("HS_TOKEN_FOR_TEST")
    with pytest.raises(ConfigError, match="HS_TOKEN_FOR_TEST, which is not set"):
        creds.resolve(path, "hubspot", tmp_path)
    shown = creds.masked(creds.load_raw(path))
    assert shown["salesforce"] == {"username": "ops@example.com", "password": "****"}
    assert shown["stripe"]["api_key"] == "**** (from file token.txt)"


def test_bad_credential_reference_is_rejected(tmp_path):
    path = tmp_path / "credentials.toml"
    path.write_text('[stripe]\napi_key = { vault = "x" }\n')
    with pytest.raises(ConfigError, match=r"stripe.api_key: expected a string"):
        creds.load_raw(path)


def test_config_show_masks_secrets_and_warns_on_open_permissions(tmp_path):
    init_project(tmp_path)
    cred = tmp_path / "credentials.toml"
    cred.write_text(f'[stripe]\napi_key = "{SECRET}"\n[salesforce]\nusername = "ops@example.com"\n')
    cred.chmod(0o644)
    result = CliRunner().invoke(cli, ["--project", str(tmp_path), "config", "show", "--json"], catch_exceptions=False)
    assert result.exit_code == 0
    assert SECRET not in result.output
    assert "chmod 600" in result.stderr
    data = json.loads(result.stdout)
    assert data["credentials"]["stripe"]["api_key"] == "****"
    assert data["credentials"]["salesforce"]["username"] == "ops@example.com"


def test_errors_are_one_line_with_exit_code(tmp_path):
    result = CliRunner().invoke(cli, ["--project", str(tmp_path), "status"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "nrr init" in result.stderr
    assert "Traceback" not in result.output
    init_project(tmp_path)
    result = CliRunner().invoke(cli, ["--project", str(tmp_path), "import", str(tmp_path / "missing")])
    assert result.exit_code == 1 and "is not a directory" in result.stderr


def _all_commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, cmd in group.commands.items():
        yield prefix + (name,), cmd
        if isinstance(cmd, click.Group):
            yield from _all_commands(cmd, prefix + (name,))


def test_every_command_has_help_with_an_example():
    commands = list(_all_commands(cli))
    assert len(commands) >= 5
    for path, cmd in commands:
        result = CliRunner().invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, path
        assert cmd.help and len(cmd.help) > 20, f"nrr {' '.join(path)} has no help text"
        if not isinstance(cmd, click.Group):
            assert "Example" in result.output, f"nrr {' '.join(path)} --help shows no example"


def test_memory_limit_caps_the_store(tmp_path):
    from nrr.project import ProjectContext, init_project

    init_project(tmp_path)
    (tmp_path / "nrr.toml").write_text('[project]\nmemory_limit = "1GB"\n')
    with ProjectContext(tmp_path).store() as store:
        # DuckDB reports the cap in binary units: 1 GB = 10^9 bytes = 953.6 MiB
        assert store.con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == "953.6 MiB"
