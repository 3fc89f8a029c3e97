"""``egov cloud preview|up|destroy``: the real Pulumi engine, through the Automation API.

State lives in a local file backend under ``egov.paths.state_dir()/pulumi`` (no Pulumi Cloud
account); secrets are encrypted with a passphrase taken from ``EGOV_PULUMI_PASSPHRASE`` and handed
to the CLI in its environment only (never in arguments, files or messages). The program is the
project's own (``Pulumi.yaml`` at the repo root, ``stacks/__main__.py``), so ``pulumi up`` run by
hand does exactly the same.

Everything that can be checked before the engine starts is checked first, and what is missing is
said in one line: the ``pulumi`` CLI, the passphrase, the OpenStack credentials (a clouds.yaml
entry per region), the vaults' sync key.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from egov.cloud.config import LoadedStack
from egov.errors import EgovError
from egov.paths import project_root, state_dir

Op = Literal["preview", "up", "destroy"]
PASSPHRASE_ENV = "EGOV_PULUMI_PASSPHRASE"
PROVIDER_PLUGIN = ("openstack", "v5.5.3")


def clouds_yaml_paths() -> list[Path]:
    """Where openstacksdk (and so the provider) looks for clouds.yaml, in its order."""
    env = os.environ.get("OS_CLIENT_CONFIG_FILE")
    paths = [Path(env)] if env else []
    return paths + [Path.cwd() / "clouds.yaml", Path.home() / ".config/openstack/clouds.yaml",
                    Path("/etc/openstack/clouds.yaml")]


def known_clouds() -> set[str]:
    names: set[str] = set()
    for p in clouds_yaml_paths():
        try:
            doc = yaml.safe_load(p.read_text(encoding="utf-8")) if p.is_file() else None
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if isinstance(doc, dict) and isinstance(doc.get("clouds"), dict):
            names |= {str(k) for k in doc["clouds"]}
    return names


def missing_prerequisites(stack: LoadedStack, op: Op) -> list[str]:
    """What the real engine needs and this machine lacks, in words an operator acts on."""
    missing = []
    if shutil.which("pulumi") is None:
        missing.append("the pulumi CLI (not on PATH)")
    if not os.environ.get(PASSPHRASE_ENV):
        missing.append(f"{PASSPHRASE_ENV} (the passphrase of the stack's secrets)")
    wanted = [r.cloud or f"egov-{r.name}" for r in stack.layout.regions]
    have = known_clouds()
    lacking = [c for c in wanted if c not in have]
    if lacking:
        shown = ", ".join(lacking[:3]) + (f" and {len(lacking) - 3} more" if len(lacking) > 3 else "")
        missing.append(f"OpenStack credentials (no clouds.yaml entry for {shown})")
    if op != "destroy" and stack.layout.vault_sync_key is None:
        missing.append("the vaults' container-sync key (egov:vault_sync_key, a Pulumi secret)")
    return missing


@dataclass(slots=True)
class Outcome:
    summary: str


def check_prerequisites(stack: LoadedStack, op: Op) -> None:
    """Raise one line listing everything the engine needs and this machine lacks."""
    missing = missing_prerequisites(stack, op)
    if missing:
        raise EgovError.one(f"egov cloud {op}", f"--stack {stack.name}", f"missing: {'; '.join(missing)}",
                            "install the pulumi CLI, export the passphrase, add the regions to clouds.yaml and "
                            "set the secret (docs/cloud.md, 'What runs offline, and what for real'); "
                            "`egov cloud plan` needs none of them")


def run(op: Op, stack: LoadedStack, on_output: Callable[[str], None]) -> Outcome:
    """Run one engine operation on a stack of stacks/; raise EgovError with one line on failure."""
    check_prerequisites(stack, op)
    root = project_root()
    if stack.path.resolve().parent != (root / "stacks").resolve():
        raise EgovError.one(stack.shown, "", "the engine runs stacks of stacks/ only",
                            f"copy it to stacks/Pulumi.{stack.name}.yaml")
    backend = state_dir() / "pulumi"
    backend.mkdir(parents=True, exist_ok=True)
    env = {"PULUMI_BACKEND_URL": backend.resolve().as_uri(),
           "PULUMI_CONFIG_PASSPHRASE": os.environ[PASSPHRASE_ENV],
           "PULUMI_SKIP_UPDATE_CHECK": "true"}
    import pulumi.automation as auto

    try:
        ws = auto.LocalWorkspaceOptions(work_dir=str(root), env_vars=env, secrets_provider="passphrase")
        st = auto.create_or_select_stack(stack_name=stack.name, work_dir=str(root), opts=ws)
        st.workspace.install_plugin(*PROVIDER_PLUGIN)
        if op == "preview":
            pr = st.preview(on_output=on_output, color="never")
            return Outcome(f"preview: {dict(pr.change_summary)}")
        if op == "up":
            ur = st.up(on_output=on_output, color="never")
            return Outcome(f"up: {ur.summary.result}: {dict(ur.summary.resource_changes or {})}")
        dr = st.destroy(on_output=on_output, color="never")
        return Outcome(f"destroy: {dr.summary.result}: {dict(dr.summary.resource_changes or {})}")
    except FileNotFoundError as exc:  # the CLI vanished between the check and the call
        raise EgovError.one(f"egov cloud {op}", "pulumi", f"cannot run {exc.filename or 'pulumi'}",
                            "install the pulumi CLI and put it on PATH") from None
    except auto.CommandError as exc:
        lines = [x for x in str(exc).strip().splitlines() if x.strip()]
        last = next((x.strip() for x in reversed(lines) if "error" in x.lower()), lines[-1].strip() if lines else "")
        raise EgovError.one(f"egov cloud {op}", f"--stack {stack.name}", f"pulumi failed: {last[:300]}",
                            "read the engine output above; fix and run again") from None
