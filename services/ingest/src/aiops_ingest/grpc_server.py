"""The OTLP/gRPC receiver: the three collector services (traces, metrics, logs) on one port,
served beside the HTTP ones by the same `IngestService`, with the same bearer tokens (in the
`authorization` metadata) and rate limit.

Errors are the status codes the OTLP specification gives: UNAUTHENTICATED, INVALID_ARGUMENT for
data that can never be accepted, and UNAVAILABLE or RESOURCE_EXHAUSTED (which exporters retry)
with the delay to wait, as a RetryInfo in the status details and under the key the OpenTelemetry
Python exporter reads. gzip (`grpc-encoding`) and the size limit are gRPC's own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

import grpc
from google.protobuf.any_pb2 import Any as AnyMessage
from google.protobuf.duration_pb2 import Duration
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]

from aiops_core.errors import AiopsError, DependencyUnavailableError
from aiops_core.ratelimit import RateLimiter, bearer_token, identity_of
from aiops_ingest.metrics import IngestMetrics
from aiops_ingest.otlp import SIGNALS, Encoding, Signal, parse_request, response_message
from aiops_ingest.service import IngestService
from aiops_ingest.tokens import token_accepted

log = logging.getLogger(__name__)

# gRPC's status for each platform error status code that a client can cause (INTERNAL otherwise).
_CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    415: grpc.StatusCode.INVALID_ARGUMENT,
    422: grpc.StatusCode.INVALID_ARGUMENT,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    503: grpc.StatusCode.UNAVAILABLE,
}


class OtlpGrpcServer:
    """A component (`start()`/`stop()`) serving OTLP/gRPC on `host:port`."""

    def __init__(
        self,
        service: IngestService,
        metrics: IngestMetrics,
        *,
        host: str,
        port: int,
        tokens: Sequence[str],
        rate_limiter: RateLimiter,
        max_message_bytes: int,
    ) -> None:
        self._service = service
        self._metrics = metrics
        self._address = f"{host}:{port}"
        self._tokens = tokens
        self._rate_limiter = rate_limiter
        self._max_message_bytes = max_message_bytes
        self._server: grpc.aio.Server | None = None

    async def start(self) -> None:
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", self._max_message_bytes),
                # On by default: a second server on the port would silently share its calls.
                ("grpc.so_reuseport", 0),
            ]
        )
        server.add_generic_rpc_handlers([self._handler(signal) for signal in SIGNALS])
        try:
            server.add_insecure_port(self._address)
        except RuntimeError as exc:
            raise RuntimeError(f"OTLP/gRPC cannot listen on {self._address}: {exc}") from exc
        await server.start()
        self._server = server
        log.info("OTLP/gRPC receiver listening", extra={"address": self._address})

    async def stop(self) -> None:
        """Stop taking calls, and let those under way finish (their data is the broker's by then)."""
        if self._server is not None:
            await self._server.stop(grace=10)
            self._server = None

    def _handler(self, signal: Signal) -> grpc.GenericRpcHandler:
        """The signal's collector service, its one method Export taking the request's bytes, so
        that a request that does not parse is INVALID_ARGUMENT (gRPC's own decoding would make it
        INTERNAL)."""

        async def export(body: bytes, context: grpc.aio.ServicerContext[bytes, Any]) -> bytes:
            return bytes((await self.export(signal, body, context)).SerializeToString())

        return grpc.method_handlers_generic_handler(
            signal.grpc_service, {"Export": grpc.unary_unary_rpc_method_handler(export)}
        )

    async def export(self, signal: Signal, body: bytes, context: grpc.aio.ServicerContext[bytes, Any]) -> Any:
        code = grpc.StatusCode.OK
        try:
            await self._admit(context)
            result = await self._service.accept_request(
                signal, parse_request(body, Encoding.PROTOBUF, signal)
            )
            return response_message(signal, result.rejected_count, result.rejection_message())
        except AiopsError as exc:
            code = _CODES.get(exc.status_code, grpc.StatusCode.INTERNAL)
            retry_after = exc.retry_after_s if isinstance(exc, DependencyUnavailableError) else None
            await _abort(context, code, str(exc), retry_after)
        finally:
            self._metrics.grpc_requests.labels(signal.name, code.name).inc()

    async def _admit(self, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        """Refuse a call without a token we know, or over its client's rate."""
        authorization = _authorization(context.invocation_metadata() or ())
        if not token_accepted(bearer_token(authorization), self._tokens):
            await _abort(context, grpc.StatusCode.UNAUTHENTICATED, "missing or invalid bearer token")
        decision = await self._rate_limiter.check(identity_of(authorization, _peer_host(context.peer())))
        if not decision.allowed:
            await _abort(
                context,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"rate limit of {self._rate_limiter.rate_per_s:g} requests/s exceeded",
                int(decision.retry_after_header),
            )


async def _abort(
    context: grpc.aio.ServicerContext[Any, Any],
    code: grpc.StatusCode,
    message: str,
    retry_after_s: int | None = None,
) -> NoReturn:
    metadata: tuple[tuple[str, bytes], ...] = ()
    if retry_after_s is not None:
        retry = error_details_pb2.RetryInfo(retry_delay=Duration(seconds=retry_after_s))
        detail = AnyMessage()
        detail.Pack(retry)
        status = status_pb2.Status(code=code.value[0], message=message, details=[detail])
        metadata = (
            ("grpc-status-details-bin", status.SerializeToString()),
            ("google.rpc.retryinfo-bin", retry.SerializeToString()),
        )
    await context.abort(code, message, trailing_metadata=metadata)
    raise AssertionError("unreachable: abort raises")  # for the type checker


def _authorization(metadata: Iterable[tuple[str, Any]]) -> str | None:
    return next((value for key, value in metadata if key == "authorization" and isinstance(value, str)), None)


def _peer_host(peer: str) -> str:
    """ "ipv4:10.0.0.7:51234" or "ipv6:[::1]:51234" as the address alone."""
    address = peer.partition(":")[2]
    host = address.rpartition(":")[0]
    return host.strip("[]") or peer
