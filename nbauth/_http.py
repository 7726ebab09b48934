"""The one place nbauth does HTTP: it runs a service's flow with httpx.

Sync flows share one ``httpx.Client`` per TLS setting for the life of the
kernel, so a login pays for no client or SSL-context set-up; async flows get a
client per call that reuses the same SSL context. Transport failures become
ConnectionFailed with a message that names the host but never the full URL or
httpx's own text, which could carry a token (ioGates puts it in paths).
"""

from __future__ import annotations

import os
import ssl
import threading
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar
from urllib.parse import urlsplit

from .errors import ConnectionFailed, NbAuthError, UsageError
from .secret import Secret

if TYPE_CHECKING:
    import httpx

    from .services.base import Call, Service

T = TypeVar("T")

#: TLS verification: True (system/certifi CAs), False, or a path to a CA bundle.
Verify: TypeAlias = "bool | str | os.PathLike[str]"

__all__ = ["Verify", "arun", "run", "ssl_context"]

_lock = threading.Lock()
_contexts: dict[str, ssl.SSLContext] = {}
_clients: dict[str, httpx.Client] = {}


def _key(verify: Verify) -> str:
    return repr(verify if isinstance(verify, bool) else os.fspath(verify))


def ssl_context(verify: Verify) -> ssl.SSLContext:
    """The SSL context for a verify setting, made once and shared."""
    key = _key(verify)
    with _lock:
        context = _contexts.get(key)
        if context is None:
            context = _contexts[key] = _make_context(verify)
        return context


def _make_context(verify: Verify) -> ssl.SSLContext:
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if verify is True:
        cafile = os.environ.get("SSL_CERT_FILE")
        capath = os.environ.get("SSL_CERT_DIR")
        if not (cafile or capath):
            import certifi

            cafile = certifi.where()
        return ssl.create_default_context(cafile=cafile, capath=capath)
    path = os.fspath(verify)
    try:
        if os.path.isdir(path):
            return ssl.create_default_context(capath=path)
        return ssl.create_default_context(cafile=path)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(
            f"verify={path!r} is not a readable CA bundle ({type(exc).__name__}). "
            "Pass the path of a PEM file or folder of CA certificates, or verify=True."
        ) from None


def _client(verify: Verify) -> httpx.Client:
    key = _key(verify)
    with _lock:
        client = _clients.get(key)
    if client is None:
        import httpx

        made = httpx.Client(verify=ssl_context(verify), follow_redirects=False)
        with _lock:
            client = _clients.setdefault(key, made)
        if client is not made:
            made.close()
    return client


def _request(client: httpx.Client | httpx.AsyncClient, call: Call, timeout: float) -> Any:
    def plain(values: Any) -> Any:
        if values is None:
            return None
        return {k: v.reveal() if isinstance(v, Secret) else v for k, v in values.items()}

    return client.build_request(
        call.method,
        call.url,
        headers=plain(call.headers),
        json=plain(call.json) if isinstance(call.json, dict) else call.json,
        data=plain(call.data),
        params=call.params,
        timeout=timeout,
    )


def run(flow: Generator[Call, Any, T], *, service: Service, timeout: float, verify: Verify) -> T:
    """Drive ``flow`` with the shared sync client and return what it returns."""
    import httpx

    client = _client(verify)
    try:
        call = next(flow)
        while True:
            try:
                response = client.send(_request(client, call, timeout))
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise _transport_error(service, call, timeout, exc) from None
            call = flow.send(response)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


async def arun(
    flow: Generator[Call, Any, T], *, service: Service, timeout: float, verify: Verify
) -> T:
    """Drive ``flow`` with an async client and return what it returns."""
    import httpx

    async with httpx.AsyncClient(verify=ssl_context(verify), follow_redirects=False) as client:
        try:
            call = next(flow)
            while True:
                try:
                    response = await client.send(_request(client, call, timeout))
                except (httpx.HTTPError, httpx.InvalidURL) as exc:
                    raise _transport_error(service, call, timeout, exc) from None
                call = flow.send(response)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


def _transport_error(service: Service, call: Call, timeout: float, exc: Exception) -> NbAuthError:
    """The NbAuthError for an httpx exception raised while sending ``call``."""
    import httpx

    parts = urlsplit(call.url)
    host = parts.netloc.rpartition("@")[2]
    title = service.title
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return UsageError(
            f"{title}: '{parts.scheme}://{host}' is not a URL nbauth can call. "
            "Give an http:// or https:// URL.",
            service=service.name,
        )
    if isinstance(exc, httpx.TimeoutException):
        return ConnectionFailed(
            f"{title} did not answer within {timeout:g} s ({host}). Check the URL and your "
            "network or proxy, or allow longer with timeout=.",
            service=service.name,
        )
    reason = str(exc.__context__ or exc)
    if isinstance(exc, httpx.ConnectError) and ("SSL" in reason or "CERTIFICATE" in reason):
        return ConnectionFailed(
            f"{title}: the TLS certificate of {host} could not be verified. If a proxy or a "
            "private CA signs it, pass verify='/path/to/ca-bundle.pem'.",
            service=service.name,
        )
    if isinstance(exc, httpx.ConnectError):
        return ConnectionFailed(
            f"{title}: could not connect to {host} (no server answered there, or the name "
            "did not resolve). Check the URL, and that the service or sandbox is running.",
            service=service.name,
        )
    return ConnectionFailed(
        f"{title}: the connection to {host} broke before a full answer came "
        f"({type(exc).__name__}). Try again.",
        service=service.name,
    )
