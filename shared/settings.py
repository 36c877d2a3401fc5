"""Service configuration: read once from HAVEN_* environment variables into frozen objects."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared import urls

LogLevel = Literal["debug", "info", "warning", "error"]
# The sample configuration's placeholders (.env.example): "change-me", "changeme", any case.
PLACEHOLDER = re.compile(r"change[-_]?me", re.IGNORECASE)
SECRET_LENGTH = range(10, 257)


def placeholder_problem(secret: str) -> str | None:
    """Why a secret is still the sample value, or None. Never mentions the value itself."""
    if PLACEHOLDER.search(secret):
        return "still holds a change-me placeholder; set a real secret"
    return None


def password_problem(password: str) -> str | None:
    """Why an operator password must not be used (placeholder, 10-256 characters), or None."""
    if len(password) not in SECRET_LENGTH:
        return "must be 10-256 characters"
    return placeholder_problem(password)


def _refuse_placeholder_password(url: str) -> None:
    """Connection URLs carry the broker's and database's passwords."""
    problem = placeholder_problem(urls.password_of(url))
    if problem:
        raise ValueError(f"the password {problem}")


def _password_from_file(variable: str, path: str) -> str:
    """A secret file's content (one line); a bad or placeholder file names its variable only."""
    try:
        password = Path(path).read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ValueError(f"HAVEN_{variable}: cannot read the file ({error.strerror})") from None
    if not password:
        raise ValueError(f"HAVEN_{variable}: the file is empty")
    problem = placeholder_problem(password)
    if problem:
        raise ValueError(f"HAVEN_{variable}: the file {problem}")
    return password


class CommonSettings(BaseSettings):
    """What every service needs: where the broker and the store are, and how to log."""

    model_config = SettingsConfigDict(env_prefix="HAVEN_", frozen=True, extra="ignore")

    # One broker node, or several of one cluster comma-separated (shared/urls.py): each
    # process connects to one of them, in an order of its own, and fails over to the others.
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    # Which node of several a process tries first: `shuffled` spreads the processes over the
    # nodes; `given` takes them in the order listed (say, the node on the same host first).
    amqp_node_order: Literal["shuffled", "given"] = "shuffled"
    # A MongoDB connection string: one host, or a replica set's (`replicaSet=`, `w=majority`).
    mongo_url: str = "mongodb://127.0.0.1:27017"
    log_level: LogLevel = "info"
    host: str = "127.0.0.1"
    # Prepended to every exchange and queue name; empty in production, unique per test.
    namespace: str = Field(default="", pattern=r"^[a-z0-9_]*\.?$")
    command_shards: int = Field(default=8, ge=1, le=256)
    # Database name prefix: the service's database is f"{db_prefix}_{service}".
    db_prefix: str = Field(default="haven", pattern=r"^[A-Za-z0-9_]{1,40}$")
    shutdown_grace_seconds: float = Field(default=10.0, gt=0, le=300)
    # Files holding the broker/database password of this service's own user (compose secrets);
    # when set, the password goes into HAVEN_AMQP_URL / HAVEN_MONGO_URL (which name the user).
    amqp_password_file: str | None = None
    mongo_password_file: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _passwords_from_files(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for kind in ("amqp", "mongo"):
            path = data.get(f"{kind}_password_file")
            if path:
                password = _password_from_file(f"{kind.upper()}_PASSWORD_FILE", str(path))
                default = cls.model_fields[f"{kind}_url"].default
                url = str(data.get(f"{kind}_url", default))
                try:
                    data[f"{kind}_url"] = urls.with_password(url, password)
                except ValueError as error:
                    raise ValueError(f"HAVEN_{kind.upper()}_URL: {error}") from None
        return data

    # `haven.dead.letters` keeps a dead letter this long and at most this many (the oldest are
    # dropped first); every service declares it, so every service must agree.
    dead_letter_retention_days: float = Field(default=14.0, gt=0, le=365)
    dead_letter_max: int = Field(default=100_000, ge=1, le=10_000_000)

    @field_validator("amqp_url")
    @classmethod
    def _amqp_nodes(cls, url: str) -> str:
        for node in urls.amqp_nodes(url):
            _refuse_placeholder_password(node)
        return url

    @field_validator("mongo_url")
    @classmethod
    def _mongo_scheme(cls, url: str) -> str:
        _refuse_placeholder_password(urls.check_mongo_url(url))
        return url

    @property
    def dead_letter_ttl_ms(self) -> int:
        return max(1, round(self.dead_letter_retention_days * 86_400_000))

    def database_name(self, service: str) -> str:
        return f"{self.db_prefix}_{service}"


S = TypeVar("S", bound=CommonSettings)


def describe_error(error: ValidationError) -> str:
    """One line naming the environment variable and what is wrong with it."""
    first = error.errors()[0]
    if not first["loc"]:  # a check across fields names its variable in the message itself
        return str(first["msg"]).removeprefix("Value error, ")
    field = str(first["loc"][0])
    return f"HAVEN_{field.upper()}: {first['msg']}"  # never the value: URLs carry passwords


def load_settings(kind: type[S]) -> S:
    """Read settings or stop the process with a one-line explanation."""
    try:
        return kind()
    except ValidationError as error:
        sys.stderr.write(f"configuration error: {describe_error(error)}\n")
        raise SystemExit(2) from None
