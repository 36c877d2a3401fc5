"""A device's own key pairs and the signed blocks that introduce them to the gateway."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from haven_crypto.crypto import (
    KEY_BYTES,
    KxPrivateKey,
    SigningKey,
    b64d,
    b64e,
    require_length,
    sign_kx,
    sign_login_proof,
)


@dataclasses.dataclass(frozen=True)
class DeviceKeys:
    """Ed25519 identity (never changes for a device) and the current X25519 kx key."""

    identity: SigningKey
    kx: KxPrivateKey

    @classmethod
    def generate(cls) -> DeviceKeys:
        return cls(SigningKey.generate(), KxPrivateKey.generate())

    @classmethod
    def from_secrets(cls, identity_seed: bytes, kx_private: bytes) -> DeviceKeys:
        require_length("identity seed", identity_seed, KEY_BYTES)
        require_length("kx private key", kx_private, KEY_BYTES)
        return cls(SigningKey(identity_seed), KxPrivateKey(kx_private))

    @property
    def identity_public(self) -> bytes:
        return bytes(self.identity.verify_key)

    @property
    def kx_public(self) -> bytes:
        return bytes(self.kx.public_key)

    @property
    def identity_seed(self) -> bytes:
        return bytes(self.identity)

    @property
    def kx_private(self) -> bytes:
        return bytes(self.kx)

    def with_new_kx(self) -> DeviceKeys:
        """Rotation keeps the identity: counterparts' safety numbers stay the same."""
        return DeviceKeys(self.identity, KxPrivateKey.generate())

    def kx_signature(self, handle: str) -> bytes:
        return sign_kx(self.identity, handle, self.kx_public)

    def device_block(self, handle: str, name: str, ts: int | None = None) -> dict[str, Any]:
        """The ``device`` object of ``POST /v1/sessions``; ``ts`` defaults to now."""
        when = int(time.time()) if ts is None else ts
        return {
            "name": name,
            "identity_key": b64e(self.identity_public),
            "kx_key": b64e(self.kx_public),
            "kx_signature": b64e(self.kx_signature(handle)),
            "ts": when,
            "proof": b64e(sign_login_proof(self.identity, handle, when, self.kx_public)),
        }


def kx_from_b64(text: str) -> KxPrivateKey:
    """An old kx private key as kept in the keystore."""
    return KxPrivateKey(require_length("kx private key", b64d(text), KEY_BYTES))
