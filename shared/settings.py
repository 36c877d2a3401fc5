"""Service configuration: read once from HAVEN_* environment variables into frozen objects."""

from __future__ import annotations

import re
import sys
from typing import Literal, TypeVar
from urllib.parse import unquote

from pydantic import AnyUrl, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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


def _refuse_placeholder_password(url: AnyUrl) -> None:
    """Connection URLs carry the broker's and database's passwords."""
    problem = placeholder_problem(unquote(url.password or ""))
    if problem:
        raise ValueError(f"the password {problem}")


class CommonSettings(BaseSettings):
    """What every service needs: where the broker and the store are, and how to log."""

    model_config = SettingsConfigDict(env_prefix="HAVEN_", frozen=True, extra="ignore")

    amqp_url: AnyUrl = Field(default=AnyUrl("amqp://guest:guest@127.0.0.1:5672/"))
    mongo_url: AnyUrl = Field(default=AnyUrl("mongodb://127.0.0.1:27017"))
    log_level: LogLevel = "info"
    host: str = "127.0.0.1"
    # Prepended to every exchange and queue name; empty in production, unique per test.
    namespace: str = Field(default="", pattern=r"^[a-z0-9_]*\.?$")
    command_shards: int = Field(default=8, ge=1, le=256)
    # Database name prefix: the service's database is f"{db_prefix}_{service}".
    db_prefix: str = Field(default="haven", pattern=r"^[A-Za-z0-9_]{1,40}$")
    shutdown_grace_seconds: float = Field(default=10.0, gt=0, le=300)
    # `haven.dead.letters` keeps a dead letter this long and at most this many (the oldest are
    # dropped first); every service declares it, so every service must agree.
    dead_letter_retention_days: float = Field(default=14.0, gt=0, le=365)
    dead_letter_max: int = Field(default=100_000, ge=1, le=10_000_000)

    @field_validator("amqp_url")
    @classmethod
    def _amqp_scheme(cls, url: AnyUrl) -> AnyUrl:
        if url.scheme not in {"amqp", "amqps"}:
            raise ValueError("must be an amqp:// or amqps:// URL")
        _refuse_placeholder_password(url)
        return url

    @field_validator("mongo_url")
    @classmethod
    def _mongo_scheme(cls, url: AnyUrl) -> AnyUrl:
        if url.scheme not in {"mongodb", "mongodb+srv"}:
            raise ValueError("must be a mongodb:// or mongodb+srv:// URL")
        _refuse_placeholder_password(url)
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
    field = str(first["loc"][0]) if first["loc"] else "?"
    return f"HAVEN_{field.upper()}: {first['msg']}"  # never the value: URLs carry passwords


def load_settings(kind: type[S]) -> S:
    """Read settings or stop the process with a one-line explanation."""
    try:
        return kind()
    except ValidationError as error:
        sys.stderr.write(f"configuration error: {describe_error(error)}\n")
        raise SystemExit(2) from None
