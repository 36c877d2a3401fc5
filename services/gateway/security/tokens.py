"""Access tokens: short-lived Ed25519-signed JWTs that any replica verifies without the database.

`python -m services.gateway.security.tokens generate` prints a new PEM signing key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import jwt
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.gateway.settings import GatewaySettings

log = structlog.get_logger(__name__)

ISSUER = "haven-gateway"
AUDIENCE = "haven"


class InvalidTokenError(Exception):
    """The token is malformed, expired, or signed by a key we do not know."""


@dataclass(frozen=True)
class Claims:
    account_id: str
    device_id: str
    role: str
    session: int
    expires_at: int


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise TypeError(f"{path} is not an Ed25519 private key")
    return key


def generate_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class TokenSigner:
    """Signs with the current key; verifies with it and any previous key (rotation)."""

    def __init__(self, current: Ed25519PrivateKey, previous: list[Ed25519PrivateKey]) -> None:
        self._current = current
        self.kid = key_id(current.public_key())
        self._verifiers = {key_id(k.public_key()): k.public_key() for k in [current, *previous]}
        raw = current.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        # A second secret derived from the shared key, so every replica computes the same
        # refresh-token successor without storing plaintext tokens.
        self._refresh_secret = hashlib.blake2b(
            raw, key=b"haven-refresh-v1", digest_size=32
        ).digest()

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> TokenSigner:
        if settings.signing_key_file is None:
            log.warning("ephemeral_signing_key", hint="set HAVEN_SIGNING_KEY_FILE for replicas")
            return cls(Ed25519PrivateKey.generate(), [])
        previous = [
            load_key(Path(p.strip()))
            for p in settings.previous_signing_key_files.split(",")
            if p.strip()
        ]
        return cls(load_key(settings.signing_key_file), previous)

    def public_keys(self) -> dict[str, bytes]:
        """Every key id this gateway verifies with -> its raw Ed25519 public key (published at
        `GET /v1/keys`, so receipts stay verifiable without an account)."""
        raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
        return {kid: public.public_bytes(*raw) for kid, public in self._verifiers.items()}

    def sign(self, data: bytes) -> bytes:
        """A detached Ed25519 signature with the current key (its id is `kid`)."""
        return self._current.sign(data)

    def issue(self, claims: Claims) -> str:
        payload = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": claims.account_id,
            "dev": claims.device_id,
            "role": claims.role,
            "ses": claims.session,
            "iat": int(time.time()),
            "exp": claims.expires_at,
            "jti": secrets.token_urlsafe(9),
        }
        return jwt.encode(payload, self._current, algorithm="EdDSA", headers={"kid": self.kid})

    def verify(self, token: str) -> Claims:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            public = self._verifiers.get(str(kid))
            if public is None:
                raise InvalidTokenError("unknown key id")
            payload = jwt.decode(
                token,
                public,
                algorithms=["EdDSA"],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "sub", "dev", "role", "ses"]},
            )
            return Claims(
                account_id=str(payload["sub"]),
                device_id=str(payload["dev"]),
                role=str(payload["role"]),
                session=int(payload["ses"]),
                expires_at=int(payload["exp"]),
            )
        except (jwt.PyJWTError, ValueError, TypeError) as error:
            raise InvalidTokenError(type(error).__name__) from error

    def refresh_successor(self, token: str) -> str:
        """The successor of a refresh token stored without a seed (issued before seeds existed):
        the same on every replica, but only until the signing key rotates."""
        mac = hmac.new(self._refresh_secret, token.encode(), hashlib.sha256).digest()
        return jwt.utils.base64url_encode(mac).decode()


def refresh_successor(token: str, seed: bytes) -> str:
    """The successor of a refresh token, from the random seed stored with its record: the same
    on every replica and under any signing key, so a replay across a key rotation never starts
    a second chain; unguessable without the token, which the database does not hold."""
    mac = hmac.new(seed, token.encode(), hashlib.sha256).digest()
    return jwt.utils.base64url_encode(mac).decode()


def main(argv: list[str]) -> int:
    if argv[1:] != ["generate"]:
        sys.stderr.write(
            "usage: python -m services.gateway.security.tokens generate > signing_key.pem\n"
        )
        return 2
    sys.stdout.write(generate_pem().decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
