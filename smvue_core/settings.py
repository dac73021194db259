"""Configuration from the environment (CONTRACT.md, "Configuration").

One frozen object read once per process; everything else receives it instead of reading os.environ.
"""

from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from smvue_core.security.files import PRIVATE_FILE_MODE, group_or_world_access, private_dir

GOOGLE_API_BASE = "https://www.googleapis.com/calendar/v3/"
GOOGLE_AUTH_BASE = "https://accounts.google.com/o/oauth2/"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL, not a secret
GOOGLE_REVOKE_URI = "https://oauth2.googleapis.com/revoke"
GRAPH_API_BASE = "https://graph.microsoft.com/v1.0/"
MS_AUTHORITY = "https://login.microsoftonline.com/common"
# A bearer token anyone could guess in a few tries is no token: 32 characters is the floor
# (the generated one is 43, secrets.token_urlsafe(32)).
MIN_API_TOKEN_LENGTH = 32


class ConfigError(ValueError):
    """Configuration that SMVue refuses to run with: one line naming the setting and the fix."""


def _read_secret_file(path: Path) -> str:
    """An existing key file, refused when its mode lets the group or others read it.

    Refused rather than fixed: a secret that was readable by others may already have leaked, and
    a silent chmod would hide that. The operator decides whether to rotate it
    (`smvue rotate-key`, a new api.token), then tightens the mode."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if group_or_world_access(mode):
        raise ConfigError(
            f"{path} is open to group or others (mode {mode:04o}); it may have leaked: rotate it "
            f"if others could read it, then run: chmod 600 {path}"
        )
    return path.read_text().strip()


def _ensure_secret_file(path: Path, make) -> str:
    """Read a generated secret, creating it owner-only (0600) on first use."""
    if path.exists():
        return _read_secret_file(path)
    private_dir(path.parent)
    value = make()
    # O_EXCL so two processes starting together cannot both write different secrets.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return _read_secret_file(path)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


def _checked_api_token(token: str | None, source: str) -> str | None:
    if token is not None and len(token) < MIN_API_TOKEN_LENGTH:
        raise ConfigError(
            f"{source} is {len(token)} characters; it must be at least {MIN_API_TOKEN_LENGTH} "
            "(generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return token


@dataclass(frozen=True)
class Settings:
    home: Path
    warehouse_path: Path
    published_path: Path
    warehouse_key: str | None
    public_url: str
    google_api_base: str
    google_auth_base: str
    graph_api_base: str
    ms_authority: str
    google_client_id: str
    google_client_secret: str
    ms_client_id: str
    ms_client_secret: str
    past_days: int = 90
    future_days: int = 30
    # SMVUE_DATABASE_URL (postgresql://…): the operational store and Dagster's instance on
    # PostgreSQL; unset, the store is the SQLite file under SMVUE_HOME.
    database_url: str | None = field(default=None, repr=False)
    _secret_key: str | None = field(default=None, repr=False)
    _api_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        home = Path(env.get("SMVUE_HOME", "./data")).resolve()
        return cls(
            home=home,
            warehouse_path=Path(env.get("SMVUE_WAREHOUSE", home / "warehouse.duckdb")),
            published_path=Path(env.get("SMVUE_PUBLISHED", home / "published.duckdb")),
            warehouse_key=env.get("SMVUE_WAREHOUSE_KEY") or None,
            public_url=env.get("SMVUE_PUBLIC_URL", "http://127.0.0.1:8780").rstrip("/"),
            google_api_base=_with_slash(env.get("SMVUE_GOOGLE_API_BASE", GOOGLE_API_BASE)),
            google_auth_base=_with_slash(env.get("SMVUE_GOOGLE_AUTH_BASE", GOOGLE_AUTH_BASE)),
            graph_api_base=_with_slash(env.get("SMVUE_GRAPH_API_BASE", GRAPH_API_BASE)),
            ms_authority=env.get("SMVUE_MS_AUTHORITY", MS_AUTHORITY).rstrip("/"),
            google_client_id=env.get("SMVUE_GOOGLE_CLIENT_ID", "smvue-google-dev"),
            google_client_secret=env.get("SMVUE_GOOGLE_CLIENT_SECRET", "smvue-google-dev-secret"),
            ms_client_id=env.get("SMVUE_MS_CLIENT_ID", "smvue-microsoft-dev"),
            ms_client_secret=env.get("SMVUE_MS_CLIENT_SECRET", "smvue-microsoft-dev-secret"),
            past_days=int(env.get("SMVUE_SYNC_PAST_DAYS", "90")),
            future_days=int(env.get("SMVUE_SYNC_FUTURE_DAYS", "30")),
            database_url=_checked_database_url(env.get("SMVUE_DATABASE_URL") or None),
            _secret_key=env.get("SMVUE_SECRET_KEY") or None,
            # Checked here, so every command refuses a weak token at start, before serving anything.
            _api_token=_checked_api_token(env.get("SMVUE_API_TOKEN") or None, "SMVUE_API_TOKEN"),
        )

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def opstore_path(self) -> Path:
        return self.home / "operational.sqlite"

    @property
    def opstore_target(self) -> str | Path:
        """What `OpStore` opens: the PostgreSQL URL when one is set, else the SQLite file."""
        return self.database_url or self.opstore_path

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    def secret_key(self) -> str:
        """The token-encryption key: from the environment, or generated once into secret.key."""
        if self._secret_key:
            return self._secret_key
        from cryptography.fernet import Fernet

        return _ensure_secret_file(self.home / "secret.key", lambda: Fernet.generate_key().decode())

    def api_token(self) -> str:
        """The app API's bearer token: from the environment, or generated once into api.token."""
        if self._api_token:
            return _checked_api_token(self._api_token, "SMVUE_API_TOKEN")  # Settings built directly
        path = self.home / "api.token"
        token = _ensure_secret_file(path, lambda: secrets.token_urlsafe(32))
        return _checked_api_token(token, str(path))


def _checked_database_url(url: str | None) -> str | None:
    if url is not None and not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(
            "SMVUE_DATABASE_URL must be a postgresql:// URL (unset it to keep the SQLite store)"
        )
    return url


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"
