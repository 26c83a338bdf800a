"""The Omni secret: the org key, per-user tokens (namespaced id -> token), the SCIM token and
the people's emails by namespaced id, read once per value the secret store hands back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from omni_relay.domain.identity import canonical
from omni_relay.errors import SecretsUnavailable


@dataclass(frozen=True)
class OmniCredentials:
    api_key: str = field(default="", repr=False)
    user_tokens: Mapping[str, str] = field(default_factory=dict, repr=False)  # namespaced id -> token
    scim_token: str = field(default="", repr=False)  # reads Omni's users (owner-or-on-call); else api_key
    identities: Mapping[str, str] = field(default_factory=dict)  # "github:id:583231" -> the person's email
    problems: tuple[str, ...] = ()  # keys refused or read in an old form, for the setup log

    @classmethod
    def from_secret(cls, secret_id: str, value: Mapping[str, Any]) -> OmniCredentials:
        api_key, scim_token = value.get("api_key", ""), value.get("scim_token", "")
        if not isinstance(api_key, str) or not isinstance(scim_token, str):
            raise SecretsUnavailable(f"secret {secret_id}: api_key and scim_token must be strings")
        maps: dict[str, dict[str, str]] = {}
        problems: list[str] = []
        for name in ("user_tokens", "identities"):
            found = value.get(name, {})
            if not isinstance(found, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in found.items()
            ):
                raise SecretsUnavailable(f"secret {secret_id}: {name} must map strings to strings")
            maps[name] = {}
            for k, v in found.items():
                read = canonical(k)
                if read.problem:
                    problems.append(f"{name} key {read.problem}")
                elif v.strip():
                    if read.deprecated:
                        problems.append(f"{name} key {k!r} is in an old form: write {read.deprecated!r}")
                    if read.key.startswith("github:login:"):
                        problems.append(f"{name} key {k!r}: a login can be renamed and taken; prefer github:id:<n>")
                    maps[name][read.key] = v.strip()
        identities = {k: v.lower() for k, v in maps["identities"].items()}
        return cls(api_key.strip(), maps["user_tokens"], scim_token.strip(), identities, tuple(problems))
