"""slipway: ship container releases.

Build an image once, push it to a registry, deploy it to Docker hosts by pull + up behind health
checks, with zero downtime and a rollback that works. This package re-exports the native module
``slipway._native`` (Rust, via PyO3); every decision lives in the Rust core.

Each room adds its names in its own section below (and in ``_native.pyi``).
"""

from slipway import _native
from slipway._native import *  # noqa: F401,F403

__version__: str = _native.__version__
__all__: list = ["__version__"]

# --- foundation: exceptions, references, tag and environment policies -------------------------
from slipway._native import (  # noqa: E402
    BackupError,
    BuildError,
    ComposeError,
    DeployError,
    HealthError,
    ImageRef,
    InvalidInput,
    InvalidReference,
    PolicyViolation,
    RegistryError,
    RouteError,
    SlipwayError,
    check_policy,
    tags_for,
)

__all__ += [
    "SlipwayError",
    "InvalidInput",
    "InvalidReference",
    "PolicyViolation",
    "RegistryError",
    "BuildError",
    "HealthError",
    "ComposeError",
    "DeployError",
    "RouteError",
    "BackupError",
    "ImageRef",
    "tags_for",
    "check_policy",
]

# --- registry --------------------------------------------------------------------------------
from slipway._native import Registry, login  # noqa: E402

__all__ += ["Registry", "login"]

# --- build -----------------------------------------------------------------------------------
from slipway._native import build, build_compose, oci_build  # noqa: E402

__all__ += ["build", "build_compose", "oci_build"]

# --- health ----------------------------------------------------------------------------------
from slipway._native import check_all, probe  # noqa: E402

__all__ += ["probe", "check_all"]

# --- compose ---------------------------------------------------------------------------------
from slipway._native import Stack  # noqa: E402

__all__ += ["Stack"]

# --- deploy ----------------------------------------------------------------------------------
from slipway._native import history, rollback, status  # noqa: E402

__all__ += ["history", "rollback", "status"]

# --- route -----------------------------------------------------------------------------------

# --- backup ----------------------------------------------------------------------------------
from slipway._native import backup, list_backups, prune_backups, restore, verify_backup  # noqa: E402

__all__ += ["backup", "restore", "verify_backup", "list_backups", "prune_backups"]

# kubernetes room
from slipway._native import render_kubernetes  # noqa: E402

__all__ += ["render_kubernetes"]

# --- proxy: the managed edge (slipway proxy up | status | logs | down) -------------------------
from slipway._native import ProxyError, proxy_down, proxy_logs, proxy_status, proxy_up  # noqa: E402

__all__ += ["ProxyError", "proxy_up", "proxy_status", "proxy_logs", "proxy_down"]
