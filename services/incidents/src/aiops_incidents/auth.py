"""Bearer tokens of the incidents API, each with a scope: `read` or `write` (which can also read).

Tokens come from `AIOPS_API_TOKENS` as `name:secret:scope` entries. With none configured the API
is open. With some, every mutating route needs a write token and reads need a read token when
`AIOPS_API_READ_REQUIRES_TOKEN` is set. The token's name is who the timeline says acted.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from aiops_core.errors import AiopsError, UnauthorizedError


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"


class ForbiddenError(AiopsError):
    status_code = 403
    code = "forbidden"


@dataclass(frozen=True)
class ApiToken:
    name: str
    secret: str
    scope: Scope

    def allows(self, needed: Scope) -> bool:
        return self.scope is Scope.WRITE or needed is Scope.READ


def parse_tokens(entries: Sequence[str]) -> tuple[ApiToken, ...]:
    """`name:secret:scope` entries as tokens; a malformed one is a configuration error."""
    tokens = []
    for entry in entries:
        parts = entry.split(":")
        if len(parts) != 3 or not parts[0] or not parts[1] or parts[2] not in Scope.__members__.values():
            raise ValueError(
                f"an API token must be name:secret:read or name:secret:write, not {entry.split(':')[0]}:…"
            )
        tokens.append(ApiToken(parts[0], parts[1], Scope(parts[2])))
    return tuple(tokens)


@dataclass(frozen=True)
class ApiAuth:
    tokens: tuple[ApiToken, ...]
    read_requires_token: bool

    def authorise(self, offered: str | None, needed: Scope) -> str:
        """Who is acting: the token's name, or 'anonymous' where no token is needed."""
        if not self.tokens or (needed is Scope.READ and not self.read_requires_token and offered is None):
            return "anonymous"
        if offered is None:
            raise UnauthorizedError(f"this route needs a bearer token with the {needed} scope")
        # Compare with every token in constant time, so timing says nothing about the secrets.
        found = None
        for token in self.tokens:
            if hmac.compare_digest(offered.encode(), token.secret.encode()):
                found = token
        if found is None:
            raise UnauthorizedError("invalid bearer token")
        if not found.allows(needed):
            raise ForbiddenError(
                f"token {found.name!r} has the {found.scope} scope; this route needs {needed}"
            )
        return found.name


def auth_optional(auth: ApiAuth) -> Callable[[str], bool]:
    """Which HTTP methods need no token under this configuration (for the OpenAPI schema)."""
    return lambda method: not auth.tokens or (method == "get" and not auth.read_requires_token)
