"""Type stubs for ``slipway._native``, the Rust extension behind ``import slipway``.

Organised by room: each room adds its classes and functions in its own section.
"""

import datetime
import os
from os import PathLike
from typing import Any, Dict, List, Literal, Mapping, Optional, Sequence, TypedDict, Union, final

__version__: str

# --- foundation: exceptions ----------------------------------------------------------------------

class SlipwayError(Exception):
    """Base class of every slipway error.

    Every instance carries ``service`` (the service the error is about, or None), ``step`` (the
    plan step or hook point that failed, or None) and ``logs`` (the failing container's or hook's
    last lines). The class follows the error's kind: refusals are PolicyViolation, bad input
    InvalidInput (a deploy's too), failures the room's class.
    """

    service: Optional[str]
    step: Optional[str]
    logs: list[str]

class InvalidInput(SlipwayError):
    """The input was wrong (exit code 2 on the CLI): bad reference, version, date, file, option."""

class InvalidReference(InvalidInput):
    """An image reference or digest is not valid."""

class ComposeError(InvalidInput):
    """A compose file is not valid."""

class PolicyViolation(SlipwayError):
    """A policy refused the request (exit code 3 on the CLI).

    ``reasons`` holds one message per refused reference, each naming the environment, the
    reference, the rule and the fix.
    """

    reasons: list[str]

class RegistryError(SlipwayError):
    """A registry or image-store operation failed."""

class BuildError(SlipwayError):
    """An image build failed."""

class HealthError(SlipwayError):
    """A health probe could not be run."""

class DeployError(SlipwayError):
    """A deploy, rollback or status query failed."""

class RouteError(SlipwayError):
    """A traffic switch failed."""

class BackupError(SlipwayError):
    """A backup or restore failed."""

# --- foundation: references ----------------------------------------------------------------------

@final
class ImageRef:
    """An image reference, parsed and normalised as the Docker Engine does.

    ``str(ref)`` is the canonical form (``docker.io/library/redis:latest``); ``familiar()`` the short
    form Docker prints (``redis:latest``). Immutable, hashable, comparable with ``==``.
    """

    @staticmethod
    def parse(s: str) -> "ImageRef":
        """Parse ``s`` as ``docker pull`` would (adds ``docker.io``, ``library/``, ``:latest``).

        Raises ``InvalidReference`` naming the reference and what is wrong.
        """
    @property
    def registry(self) -> str:
        """The registry host with port, e.g. ``docker.io`` or ``127.0.0.1:5000``."""
    @property
    def repository(self) -> str:
        """The repository path, e.g. ``library/redis``."""
    @property
    def tag(self) -> Optional[str]:
        """The tag, or None (a digest-only reference)."""
    @property
    def digest(self) -> Optional[str]:
        """The digest (``sha256:...``), or None."""
    @property
    def name(self) -> str:
        """``registry/repository`` without tag or digest."""
    @property
    def is_pinned(self) -> bool:
        """Whether a digest pins the reference (a tag, if present too, is then informative)."""
    @property
    def canonical(self) -> str:
        """The canonical form, same as ``str(ref)``."""
    def familiar(self) -> str:
        """The short form Docker prints: ``redis:7``, ``user/app:1``, ``127.0.0.1:5000/app:v1``."""
    def __str__(self) -> str: ...
    def __repr__(self) -> str: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

# --- foundation: tag and environment policies ----------------------------------------------------

def tags_for(
    event: str,
    sha: Optional[str] = None,
    date: Union[str, datetime.date, None] = None,
    existing: Optional[Sequence[str]] = None,
    version: Optional[str] = None,
    latest: bool = False,
) -> list[str]:
    """The tags a build event gets, most specific first.

    ``event="pre-release"`` (needs ``sha``; ``date`` is ``YYYYMMDD`` or a ``datetime.date``,
    default today in UTC; ``existing`` the tags already present): ``sha-<7>``,
    ``test-YYYYMMDD-N`` (N one more than the highest N of that day in ``existing``, else 1),
    ``staging-latest``.
    ``event="release"`` (needs ``version``, ``X.Y.Z`` or ``vX.Y.Z``): ``vX.Y.Z``, plus ``latest``
    when ``latest=True``.

    Raises ``InvalidInput`` for an unknown event, a missing or misplaced option, a bad sha, date
    or version (``1.2`` is refused).
    """

def check_policy(
    env: str,
    refs: Sequence[Union[str, ImageRef]],
    policy_file: Union[str, "os.PathLike[str]", None] = None,
) -> None:
    """Check references against the policy of environment ``env``.

    Built in: ``production`` accepts ``vX.Y.Z`` tags and digests only; ``staging`` accepts all.
    ``policy_file`` (TOML, or JSON when it ends in ``.json``) defines more environments or replaces
    these. A reference with a tag and a digest is judged by its digest.

    Returns None when every reference is accepted. Raises ``PolicyViolation`` (with ``reasons``,
    one per refused reference) otherwise, ``InvalidReference`` for a malformed reference and
    ``InvalidInput`` for an unknown environment or a bad policy file.
    """

# --- foundation: runtime diagnostics -------------------------------------------------------------

def _sleep_released(seconds: float, interruptible: bool = False) -> float:
    """Sleep in Rust on slipway's shared runtime with the GIL released (a diagnostic for tests).

    With ``interruptible=True`` Python signal handlers run while waiting, so Ctrl-C stops it.
    """

# --- registry ------------------------------------------------------------------------------------

class Registry:
    """Registry operations; references may be ``oci:DIR:TAG`` layouts. Calls release the GIL.

    Without ``username``/``password``, credentials come from Docker's config.json (``DOCKER_CONFIG``,
    ``auths``, ``credHelpers``, ``credsStore``). Loopback hosts and ``insecure`` ones use plain HTTP.
    Failures raise ``RegistryError`` (or ``InvalidInput`` for bad arguments).
    """

    def __init__(
        self,
        username: Optional[str] = None,
        password: Optional[str] = None,
        insecure: List[str] = ...,
        ca: Optional[str] = None,
    ) -> None: ...
    def digest(self, reference: str) -> str:
        """The ``sha256:...`` digest ``reference`` points at."""
    def tags(self, repository: str) -> List[str]:
        """The tags of ``repository`` (or ``oci:DIR``), sorted."""
    def inspect(self, reference: str) -> Dict[str, Any]:
        """Keys of ``slipway inspect --json``: reference, digest, media_type, size, platforms,
        layers, total_size, config."""
    def copy(self, source: str, destination: str, parallel: int = 4) -> str:
        """Copy an image or index; promotion in one registry moves no blob bytes. Returns the digest."""
    def push(self, image: str, destination: str, docker_host: Optional[str] = None, parallel: int = 4) -> str:
        """Push an image from the Docker Engine (or an ``oci:`` layout). Returns the digest."""
    def load(self, source: str, tag: str, docker_host: Optional[str] = None) -> str:
        """Load an image from a layout or registry into the Docker Engine as ``tag``."""
    def remove(self, reference: str) -> str:
        """Delete the manifest ``reference`` points at (every tag on it). Returns the digest."""
    def prune(
        self, repository: str, keep: int, match: str, protect: List[str] = ..., apply: bool = False
    ) -> Dict[str, Any]:
        """Keys deleted ([tag, digest] pairs), kept, shared, applied. A dry run unless ``apply``."""

def login(registry: str, username: str, password: str, insecure: bool = False) -> str:
    """Check the credentials, store them in config.json as ``docker login`` does; returns its path."""

# --- build ---------------------------------------------------------------------------------------

class BuildResult(TypedDict):
    """What a build produced; the same keys as ``slipway build --json``."""

    digest: Optional[str]  # manifest digest when there is one, else the image ID
    image_id: Optional[str]  # config digest (the engine's image ID)
    manifest_digest: Optional[str]  # manifest or index digest (OCI builds; Dockerfile builds once pushed)
    tags: List[str]

def build(
    context: str,
    *,
    dockerfile: Optional[str] = None,
    target: Optional[str] = None,
    build_args: Optional[Dict[str, str]] = None,
    labels: Optional[Dict[str, str]] = None,
    tags: Optional[List[str]] = None,
    event: Optional[str] = None,
    sha: Optional[str] = None,
    version: Optional[str] = None,
    latest: bool = False,
    push: bool = False,
    no_cache: bool = False,
    platform: Optional[str] = None,
    host: Optional[str] = None,
) -> BuildResult:
    """Build ``context`` with its Dockerfile through the engine (never pulling), add the OCI
    labels (revision, version, created, source), tag (``tags``, or the tag policy's tags for
    ``event`` applied to each repository in ``tags``) and push when asked. The GIL is released.

    Raises ``InvalidInput`` for bad options, ``BuildError`` when a step fails (the message names
    the step and its last output lines).
    """

def build_compose(
    files: List[str],
    services: Optional[List[str]] = None,
    *,
    project: Optional[str] = None,
    env_file: Optional[str] = None,
    event: Optional[str] = None,
    sha: Optional[str] = None,
    version: Optional[str] = None,
    push: bool = False,
) -> List[Dict[str, Any]]:
    """Build the compose project's `build:` services (each image once); one dict per image:
    image, services, digest, tags. Raises BuildError (ComposeError-shaped input errors: InvalidInput)."""
    ...

def oci_build(
    file: str,
    *,
    output: Optional[str] = None,
    push: Optional[str] = None,
    load: Optional[str] = None,
    host: Optional[str] = None,
) -> BuildResult:
    """Build the image described by the TOML build ``file`` without the engine, byte-for-byte
    reproducibly; write it to ``output`` (``oci:DIR:TAG``), push it to ``push`` and/or load it
    into the engine as ``load``. The GIL is released.
    """

# --- health --------------------------------------------------------------------------------------

Duration = Union[str, float]
"""A compose-style duration (``"500ms"``, ``"3s"``, ``"1m30s"``) or a number of seconds."""

class ProbeReport(TypedDict):
    """One check's verdict; the same keys as ``slipway probe --json``."""

    target: str
    status: str  # "healthy" | "unhealthy" | "unreachable"
    reason: Optional[str]
    latency_ms: int
    attempts: int
    elapsed_ms: int
    starting: bool
    output: Optional[str]

class CheckSpec(TypedDict, total=False):
    """A target with its own timing, overriding ``check_all``'s keyword arguments."""

    target: str
    timeout: Duration
    retries: int
    interval: Duration
    start_period: Duration

def probe(
    target: str,
    *,
    timeout: Optional[Duration] = "5s",
    retries: int = 1,
    interval: Optional[Duration] = "1s",
    start_period: Optional[Duration] = "0s",
    headers: Optional[Mapping[str, str]] = None,
    status: Optional[str] = None,
    body: Optional[str] = None,
    insecure: bool = False,
    ca: Optional[str] = None,
    host: Optional[str] = None,
    context: Optional[str] = None,
    ssh_persist: Optional[Duration] = None,
) -> ProbeReport:
    """Probe ``target`` until healthy or unhealthy with compose semantics (failures during
    ``start_period`` do not count; ``retries`` consecutive failures make it unhealthy).

    ``host=``/``context=``/``ssh_persist=`` name the engine as ``slipway probe -H`` does
    (``DOCKER_HOST`` and the current context by default): container://, exec://, log:// and
    memory:// targets ask it, and a remote engine's network targets are probed from its side.

    Targets: ``http(s)://...``, ``tcp://HOST:PORT``, ``postgres://[user@]HOST:PORT/DB``,
    ``redis://[:password@]HOST:PORT``, ``container://NAME``, ``exec://NAME/command args``,
    ``log://NAME?pattern=REGEX``, ``disk:///PATH?min_free=N``, ``memory://NAME?max_percent=N``.
    ``headers``/``status`` (``"2xx"``, ``"200-399"``)/``body``/``insecure``/``ca`` apply to HTTP.
    The GIL is released while probing. Raises ``InvalidInput`` for a bad target or option.
    """

def check_all(
    checks: Sequence[Union[str, CheckSpec]],
    *,
    timeout: Optional[Duration] = "5s",
    retries: int = 1,
    interval: Optional[Duration] = "1s",
    start_period: Optional[Duration] = "0s",
    headers: Optional[Mapping[str, str]] = None,
    status: Optional[str] = None,
    body: Optional[str] = None,
    insecure: bool = False,
    ca: Optional[str] = None,
    host: Optional[str] = None,
    context: Optional[str] = None,
    ssh_persist: Optional[Duration] = None,
) -> list[ProbeReport]:
    """Probe several targets concurrently; the reports come back in input order."""

# --- compose -------------------------------------------------------------------------------------

@final
class Stack:
    """A compose project loaded, interpolated, merged and validated (wraps the core's StackSpec)."""

    @staticmethod
    def load(
        files: Union[str, os.PathLike[str], Sequence[Union[str, os.PathLike[str]]]],
        env_file: Optional[Union[str, os.PathLike[str]]] = None,
        profiles: Optional[Sequence[str]] = None,
        project: Optional[str] = None,
    ) -> Stack:
        """Load compose files merged in order, like ``docker compose -f ... config``; raises ComposeError."""
    @property
    def name(self) -> str:
        """The project name (``-p``, ``name:``, COMPOSE_PROJECT_NAME or the first file's folder)."""
    @property
    def services(self) -> dict[str, dict[str, object]]:
        """Services by name, each in the ``docker compose config`` shape."""
    @property
    def warnings(self) -> list[str]:
        """Warnings found while loading (unset variables, ignored ``build:``)."""
    def to_dict(self) -> dict[str, object]:
        """The stack in the shape of ``docker compose config --format json``."""
    def to_json(self) -> str:
        """The stack as JSON text (``slipway config --format json``)."""
    def to_yaml(self) -> str:
        """The stack as YAML text (``slipway config``)."""
    def plan(
        self,
        env: str = "default",
        host: Optional[str] = None,
        tag: Optional[str] = None,
        policy_file: Optional[Union[str, "os.PathLike[str]"]] = None,
        context: Optional[str] = None,
        target: Optional[Literal["host", "docker", "swarm", "kubernetes"]] = None,
        namespace: Optional[str] = None,
        notes: bool = False,
        ssh_persist: Optional[Union[str, float]] = None,
    ) -> Any:
        """Deploy room: the steps a deploy would run (changes nothing), a list of step dicts; `tag`
        and `target` as in `deploy`. With ``notes=True``: ``{"steps": [...], "notes": [str, ...]}``,
        the plan as ``slipway deploy --dry-run --json`` shows it (why a service is stop-first, ...)."""
    def deploy(
        self,
        env: str = "default",
        tag: Optional[str] = None,
        dry_run: bool = False,
        lock_wait: Optional[float] = None,
        retain: int = 5,
        host: Optional[str] = None,
        pull: Optional[Literal["always", "missing", "if_not_present", "never"]] = None,
        backup: Optional[bool] = None,
        backup_dir: Optional[Union[str, "os.PathLike[str]"]] = None,
        policy_file: Optional[Union[str, "os.PathLike[str]"]] = None,
        lease: Optional[float] = None,
        context: Optional[str] = None,
        target: Optional[Literal["host", "docker", "swarm", "kubernetes"]] = None,
        with_registry_auth: bool = False,
        namespace: Optional[str] = None,
        ssh_persist: Optional[Union[str, float]] = None,
    ) -> dict[str, Any]:
        """Deploy room: deploy; {"release": dict | None, "steps": [...], "events": [...]} (with ``dry_run``
        also "notes": [...], as ``Stack.plan(notes=True)``).

        `target="swarm"` (as `--target swarm`; default: the stack's `x-slipway.target`, else the
        host) deploys on the Swarm whose manager `host`/`context` name; `with_registry_auth=True`
        (as `--with-registry-auth`) sends Docker's registry credentials so every node can pull.

        The arguments mean what the CLI's flags mean (one request type in the core): `tag` sets
        IMAGE_TAG for interpolation (the stack is loaded again with it) and the release's
        version; the environment's policy decides the database backup before any change
        (production takes one): `backup=False` skips it where the policy allows
        (`allow_no_backup`), `backup=True` forces one. Ctrl-C cancels: the deploy undoes itself
        and releases its lock (bounded wait), then KeyboardInterrupt is raised; a second Ctrl-C
        stops waiting. `lease` (seconds, default 60) is the deploy lock's lease, renewed while
        the deploy runs.

        `pull` overrides every service's compose `pull_policy` (how tags become digests).

        `ssh_persist` (as ``--ssh-persist``: ``"60s"`` or seconds) keeps an ``ssh://`` master
        connection that long after the call, so the next call skips the SSH handshake; by default
        ``SLIPWAY_SSH_PERSIST``, else the master ends with the call.

        `events` are the progress events ({"room": "deploy", "event": {"type": "resolved" |
        "step_done" | "hook_done" | ...}}). Raises DeployError / PolicyViolation."""

# --- deploy --------------------------------------------------------------------------------------
def history(
    project: str,
    host: Optional[str] = None,
    context: Optional[str] = None,
    target: Optional[Literal["host", "docker", "swarm", "kubernetes"]] = None,
    namespace: Optional[str] = None,
    ssh_persist: Optional[Union[str, float]] = None,
) -> list[dict[str, Any]]:
    """Release records of a project on the host (``target="swarm"``: on the Swarm), oldest first. ``host`` is what ``-H`` takes
    (``unix://``, ``tcp://``, ``https://``, ``ssh://[user@]host[:port]``) and ``context`` a Docker
    context (as ``--context``); by default the environment decides (``DOCKER_HOST``, contexts).
    ``ssh_persist`` is ``--ssh-persist`` (keep the ``ssh://`` master for the next call)."""
def status(
    project: str,
    host: Optional[str] = None,
    context: Optional[str] = None,
    target: Optional[Literal["host", "docker", "swarm", "kubernetes"]] = None,
    namespace: Optional[str] = None,
    ssh_persist: Optional[Union[str, float]] = None,
) -> dict[str, Any]:
    """What runs for a project: current release and containers with roles and health
    (``target="swarm"``: one entry per task, named ``service.slot@node``)."""
def rollback(
    project: str,
    to: Optional[int] = None,
    host: Optional[str] = None,
    lock_wait: Optional[float] = None,
    env: str = "default",
    retain: int = 5,
    backup: Optional[bool] = None,
    backup_dir: Optional[Union[str, "os.PathLike[str]"]] = None,
    policy_file: Optional[Union[str, "os.PathLike[str]"]] = None,
    lease: Optional[float] = None,
    context: Optional[str] = None,
    target: Optional[Literal["host", "docker", "swarm", "kubernetes"]] = None,
    with_registry_auth: bool = False,
    namespace: Optional[str] = None,
    ssh_persist: Optional[Union[str, float]] = None,
) -> dict[str, Any]:
    """Deploy a recorded release again (``target="swarm"``: the recorded service specs on the Swarm) (the previous successful one when `to` is None), with the
    exact environment it ran with and the same options as Stack.deploy (the environment's pins
    and backup apply); {"release", "steps", "events"} as Stack.deploy."""

# --- route ---------------------------------------------------------------------------------------

# --- backup --------------------------------------------------------------------------------------
# Where backups are kept means what the CLI's flags mean (one decision in the core): by default in
# a volume on the engine's host (``host:<stem>.json``), ``dir=`` a local directory only (``--dir``),
# ``download=`` also a copy in that local directory (``--download``). Restore and verify take a
# ``host:<stem>.json`` name or a local manifest/data file.
def backup(
    project: str,
    *,
    services: Optional[List[str]] = None,
    volume: Optional[str] = None,
    release: Optional[str] = None,
    dir: Optional[Union[str, "os.PathLike[str]"]] = None,
    download: Optional[Union[str, "os.PathLike[str]"]] = None,
    host: Optional[str] = None,
    context: Optional[str] = None,
    ssh_persist: Optional[Union[str, float]] = None,
) -> List[Dict[str, Any]]:
    """Back up the project's PostgreSQL services (every running one when `services` is empty) or
    the named `volume`: one dict per backup, the manifest plus ``host`` (kept on the host) and/or
    ``manifest_path`` (kept here: `dir` or `download`). `dir` and `download` together raise
    BackupError."""
    ...

def restore(
    path: Union[str, "os.PathLike[str]"],
    *,
    into: Optional[str] = None,
    project: Optional[str] = None,
    scratch: bool = False,
    volume: Optional[str] = None,
    host: Optional[str] = None,
    context: Optional[str] = None,
    ssh_persist: Optional[Union[str, float]] = None,
) -> Dict[str, Any]:
    """Restore ``host:<stem>.json`` or a local backup: a database into its service (or `into` of
    `project`, or a scratch container with ``scratch=True``), a volume archive into its volume (or
    `volume`). {"backup", "into", "tables"?} as ``slipway restore --json``."""
    ...

def verify_backup(
    path: Union[str, "os.PathLike[str]"],
    *,
    host: Optional[str] = None,
    context: Optional[str] = None,
    ssh_persist: Optional[Union[str, float]] = None,
) -> Dict[str, int]:
    """Verify a PostgreSQL backup (``host:<stem>.json`` or local): checksum, a scratch restore,
    row counts compared with the manifest; the restored counts per table. Raises BackupError."""
    ...

def list_backups(
    *,
    dir: Optional[Union[str, "os.PathLike[str]"]] = None,
    project: Optional[str] = None,
    host: Optional[str] = None,
    context: Optional[str] = None,
    ssh_persist: Optional[Union[str, float]] = None,
) -> List[Dict[str, Any]]:
    """The backups kept on the engine's host (with `dir`: in that directory), of `project` when
    given, oldest first: manifest dicts with ``host`` or ``manifest_path``."""
    ...

def prune_backups(
    *,
    keep: int = 7,
    younger_than_seconds: Optional[float] = None,
    dir: Optional[Union[str, "os.PathLike[str]"]] = None,
    project: Optional[str] = None,
    host: Optional[str] = None,
    context: Optional[str] = None,
    ssh_persist: Optional[Union[str, float]] = None,
) -> List[str]:
    """Keep the last `keep` backups of each source (and any younger than `younger_than_seconds`)
    on the engine's host (with `dir`: in that directory), of `project` when given; the removed
    ``host:`` names (or data files)."""
    ...

# kubernetes room
def render_kubernetes(
    files: Union[str, List[str]],
    env_file: Optional[str] = None,
    profiles: Optional[List[str]] = None,
    project: Optional[str] = None,
    namespace: Optional[str] = None,
    ingress: str = "ingress",
    strict: bool = False,
) -> Dict[str, Any]:
    """Render compose files as Kubernetes manifests: {"yaml", "objects", "warnings"}."""
    ...

# proxy room
class ProxyError(SlipwayError):
    """The managed proxy could not be run, read or removed."""

def proxy_up(
    *,
    name: str = "slipway-proxy",
    image: str = ...,
    http: str = ":80",
    https: str = ":443",
    redirect_https: bool = False,
    acme_email: Optional[str] = None,
    acme_server: Optional[str] = None,
    acme_staging: bool = False,
    acme_ca: Optional[str] = None,
    host: Optional[str] = None,
    context: Optional[str] = None,
    ssh_persist: Optional[Union[str, float]] = None,
) -> Dict[str, Any]:
    """Run the managed proxy (`slipway proxy up`): {"name", "action", "gap_ms", "settings_hash",
    "image", "http", "https"}; action is created, unchanged, started or recreated."""
    ...

def proxy_status(
    *,
    name: str = "slipway-proxy",
    host: Optional[str] = None,
    context: Optional[str] = None,
    ssh_persist: Optional[Union[str, float]] = None,
) -> Dict[str, Any]:
    """`slipway proxy status --json` as a dict."""
    ...

def proxy_logs(
    *,
    name: str = "slipway-proxy",
    tail: Optional[int] = None,
    host: Optional[str] = None,
    context: Optional[str] = None,
    ssh_persist: Optional[Union[str, float]] = None,
) -> List[str]:
    """The proxy's log lines."""
    ...

def proxy_down(
    *,
    name: str = "slipway-proxy",
    host: Optional[str] = None,
    context: Optional[str] = None,
    ssh_persist: Optional[Union[str, float]] = None,
) -> Dict[str, Any]:
    """Stop and remove the proxy (volumes kept): {"name", "removed", "kept_volumes"}."""
    ...
