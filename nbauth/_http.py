"""The one place nbauth does HTTP: it runs a service's flow with httpx.

Sync flows share one ``httpx.Client`` per TLS setting for the life of the
kernel, so a login pays for no client or SSL-context set-up. An async flow has
an ``httpx.AsyncClient`` to itself while it runs, taken from the idle ones of its
event loop and TLS setting and given back after, so the next flow reuses its
connections; they close when the loop shuts down. Clients keep no cookies: each
flow has its own, so one login's cookies never reach another's requests, and the
SSL context is made once per TLS setting. Transport failures become
ConnectionFailed with a message that names the host but never the full URL or
httpx's own text, which could carry a token (ioGates puts it in paths).

It also holds the transport rules: plain HTTP only to loopback unless allowed
(``check_plain_http``), a warning whenever TLS checks are off, a few retries of
a GET answered 503 and none of a POST, and the secrets of the running flow kept
out of logs and tracebacks (``nbauth._redact``).
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import ipaddress
import os
import ssl
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from contextlib import asynccontextmanager, closing, contextmanager
from contextvars import ContextVar
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar
from urllib.parse import urlsplit

from . import _bounded, _checks, _redact, _urls, _warnings
from ._calls import ANSWERED_BY, retry_after_seconds
from .errors import ConnectionFailed, InsecureWarning, NbAuthError, UsageError
from .secret import Secret

if TYPE_CHECKING:
    import httpx

    from ._calls import Call, Peer

T = TypeVar("T")
C = TypeVar("C")

#: TLS verification: True (system/certifi CAs), False, or a path to a CA bundle.
Verify: TypeAlias = "bool | str | os.PathLike[str]"

__all__ = [
    "Verify",
    "arun",
    "check_plain_http",
    "is_loopback",
    "run",
    "ssl_context",
    "warn_unverified",
]

#: A GET or HEAD answered 503 is sent again at most RETRIES times, waiting BACKOFF * 2**n
#: seconds, or the server's Retry-After when it is at most MAX_WAIT (see _retry_wait).
RETRIES = 3
BACKOFF = 0.2
MAX_WAIT = 5.0
IDEMPOTENT = frozenset({"GET", "HEAD"})

_lock = threading.Lock()
_contexts: dict[str, ssl.SSLContext] = {}
_clients: dict[str, httpx.Client] = {}
#: The idle async clients of each running event loop (see _LoopClients).
_loops: dict[asyncio.AbstractEventLoop, _LoopClients] = {}
#: Idle async clients kept per loop and TLS setting; more are closed when given back.
MAX_IDLE = 64


def _key(verify: Verify) -> str:
    if not isinstance(verify, (bool, str, os.PathLike)):
        raise UsageError(
            f"verify= takes True, False or the path of a CA bundle, not {type(verify).__name__}."
        )
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
        # A bad variable would fail here as a raw OSError or SSLError, or (a folder, read only
        # when a handshake needs it) later as a certificate that "could not be verified".
        for variable, folder in (("SSL_CERT_FILE", False), ("SSL_CERT_DIR", True)):
            given = os.environ.get(variable)
            wrong = _checks.ca_problem(given, folder) if given else None
            if wrong is not None:
                kind = "a folder of CA certificates" if folder else "a PEM file of CA certificates"
                raise ConnectionFailed(
                    f"{variable}={given!r} {wrong}, so no HTTPS certificate can be checked "
                    f"against it. Point {variable} at {kind}, or unset it (nbauth then trusts "
                    "certifi's CAs), or pass verify='/path/to/ca-bundle.pem'."
                )
        return ssl.create_default_context(cafile=cafile, capath=capath)
    path = os.fspath(verify)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    wrong = _checks.ca_problem(path, folder=os.path.isdir(path))
    try:
        if wrong is None:
            if os.path.isdir(path):
                return ssl.create_default_context(capath=path)
            return ssl.create_default_context(cafile=path)
    except (OSError, ssl.SSLError, ValueError) as exc:
        wrong = f"is not a readable CA bundle ({type(exc).__name__})"
    shown = f"verify={path!r}" if _checks.problem(path) is None else "verify="  # not garbled
    raise UsageError(
        f"{shown} {wrong}. Pass the path of a PEM file or folder of CA certificates, "
        "or verify=True."
    )


#: Clients that answer in place of the network while a test says so (nbauth.testing.answering):
#: the seam through which a test feeds a login its answers.
_answering: ContextVar[httpx.Client | None] = ContextVar("nbauth_answering", default=None)
_answering_async: ContextVar[httpx.AsyncClient | None] = ContextVar(
    "nbauth_answering_async", default=None
)


@contextmanager
def answering(transport: httpx.BaseTransport | httpx.AsyncBaseTransport) -> Iterator[None]:
    """Within the block, every flow this context runs is sent to ``transport`` (an
    ``httpx.MockTransport``, say) instead of the network: see nbauth.testing."""
    import httpx

    sync = _cookieless(httpx.Client)(transport=transport, follow_redirects=False)
    not_sync = _cookieless(httpx.AsyncClient)(transport=transport, follow_redirects=False)
    tokens = (_answering.set(sync), _answering_async.set(not_sync))
    try:
        yield
    finally:
        _answering.reset(tokens[0])
        _answering_async.reset(tokens[1])
        sync.close()


def _client(verify: Verify) -> httpx.Client:
    proxies = _urls.proxies()  # the clients route as check_plain_http sees it
    key = f"{_key(verify)} proxies#{proxies.generation}"
    with _lock:
        client = _clients.get(key)
    if client is None:
        import httpx

        made = _cookieless(httpx.Client)(
            verify=ssl_context(verify),
            follow_redirects=False,
            headers={"Accept-Encoding": _bounded.ACCEPTED},
            **proxies.client_options(ssl_context(verify), asynchronous=False),
        )
        with _lock:
            if not _clients:
                atexit.register(_close_clients)
            client = _clients.setdefault(key, made)
        if client is not made:
            made.close()
    return client


def _no_cookies() -> CookieJar:
    """A jar that keeps no cookie, for the shared clients: every login goes through them, so
    a cookie one server set would ride along with other logins. Each flow keeps its own."""
    return CookieJar(DefaultCookiePolicy(allowed_domains=[]))


@functools.cache
def _cookieless(base: type[C]) -> type[C]:
    """``base`` (httpx.Client or AsyncClient) whose ``cookies`` are a jar that keeps none
    (``_no_cookies``) and reads no answer's Set-Cookie: httpx reads every answer's into its
    client's jar, some 60 us an answer here, for nothing, since the jar would refuse them."""
    import httpx

    class NoCookies(httpx.Cookies):
        def extract_cookies(self, response: httpx.Response) -> None:
            """Nothing to keep: see ``_no_cookies``."""

    kept = NoCookies(_no_cookies())
    return type(base.__name__, (base,), {"cookies": property(lambda self: kept)})


class _LoopClients:
    """The idle async clients of one event loop, by TLS setting.

    An async flow takes a client for itself and gives it back when done, so the next flow
    reuses its open connections, and no two flows share one: httpcore scans a client's whole
    pool at every request, which a pool of many connections makes slow. ``closer``, an async
    generator the loop knows of, closes them all when the loop shuts its generators down
    (``asyncio.run`` does), while the connections can still be closed cleanly.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.idle: dict[str, list[httpx.AsyncClient]] = {}
        self.open = True
        self.closer = self._close_at_shutdown()

    async def _close_at_shutdown(self) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            with _lock:
                self.open = False
                if _loops.get(self.loop) is self:
                    del _loops[self.loop]
                idle = [client for clients in self.idle.values() for client in clients]
                self.idle.clear()
            for client in idle:
                await client.aclose()


@asynccontextmanager
async def _aclient(verify: Verify) -> AsyncIterator[httpx.AsyncClient]:
    """An async client for one flow: an idle one of the running loop, or a new one."""
    import httpx

    proxies = _urls.proxies()
    key = f"{_key(verify)} proxies#{proxies.generation}"
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # not an asyncio loop (trio, say): a client for this flow alone
        async with _cookieless(httpx.AsyncClient)(
            verify=ssl_context(verify),
            follow_redirects=False,
            headers={"Accept-Encoding": _bounded.ACCEPTED},
            **proxies.client_options(ssl_context(verify), asynchronous=True),
        ) as own:
            yield own
        return
    with _lock:
        for done in [other for other in _loops if other.is_closed()]:
            del _loops[done]  # closed without shutting its generators down: let them go
        clients = _loops.get(loop)
        client = clients.idle[key].pop() if clients and clients.idle.get(key) else None
    if clients is None:
        clients = _LoopClients(loop)
        with _lock:
            _loops[loop] = clients
        await clients.closer.__anext__()  # started: the loop now closes it at shutdown
    if client is None:
        client = _cookieless(httpx.AsyncClient)(
            verify=ssl_context(verify),
            follow_redirects=False,
            headers={"Accept-Encoding": _bounded.ACCEPTED},
            **proxies.client_options(ssl_context(verify), asynchronous=True),
        )
    try:
        yield client
    finally:
        with _lock:
            idle = clients.idle.setdefault(key, [])
            kept = clients.open and len(idle) < MAX_IDLE
            if kept:
                idle.append(client)
        if not kept:
            await client.aclose()


def _close_clients() -> None:
    """Close the shared clients' connections when the kernel exits, not leave them to the GC."""
    with _lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


def _request(
    client: httpx.Client | httpx.AsyncClient,
    call: Call,
    timeout: float,
    cookies: httpx.Cookies | None = None,
) -> Any:
    def plain(values: Any) -> Any:
        if values is None:
            return None
        return {k: v.reveal() if isinstance(v, Secret) else v for k, v in values.items()}

    return client.build_request(
        call.method,
        _parsed(call.url) if _public(call) else call.url,
        headers=plain(call.headers),
        json=plain(call.json) if isinstance(call.json, dict) else call.json,
        data=plain(call.data),
        params=call.params,
        files=call.files,
        cookies=cookies or None,
        timeout=timeout,
    )


def _public(call: Call) -> bool:
    """Whether ``call``'s URL is free of secrets, as far as the call tells: no Secret header
    (ioGates puts its token in paths as well as headers), no key of its own (``url_secrets``),
    and none of its body's secrets in it."""
    if call.url_secrets or any(isinstance(v, Secret) for v in (call.headers or {}).values()):
        return False
    body = call.json if isinstance(call.json, dict) else {}
    for values in (call.data or {}, body):
        for value in values.values():
            if isinstance(value, Secret) and value.reveal() in call.url:
                return False
    return True


@functools.lru_cache(maxsize=64)
def _parsed(url: str) -> httpx.URL:
    """``url`` parsed by httpx, kept: a kernel logs in to the same few URLs again and again,
    and httpx takes about as long to parse one as nbauth takes for the rest of a login's own
    work. Only URLs ``_public`` passes are kept."""
    import httpx

    return httpx.URL(url)


def _keep_cookies(cookies: httpx.Cookies, answer: httpx.Response) -> None:
    """The flow's own cookies, from an answer that sets any."""
    if "set-cookie" in answer.headers:
        cookies.extract_cookies(answer)


def run(flow: Generator[Call, Any, T], *, service: Peer, timeout: float, verify: Verify) -> T:
    """Drive ``flow`` with the shared sync client and return what it returns."""
    answered = ANSWERED_BY.set(None)
    try:
        with _redact.InFlight() as live, closing(flow):
            return _drive(flow, live, service=service, timeout=timeout, verify=verify)
    finally:
        ANSWERED_BY.reset(answered)


async def arun(
    flow: Generator[Call, Any, T], *, service: Peer, timeout: float, verify: Verify
) -> T:
    """Drive ``flow`` with an async client and return what it returns."""
    answered = ANSWERED_BY.set(None)
    try:
        with _redact.InFlight() as live, closing(flow):
            return await _adrive(flow, live, service=service, timeout=timeout, verify=verify)
    finally:
        ANSWERED_BY.reset(answered)


# The drivers run in frames of their own that end with the failure, so InFlight can clear their
# locals (the current Call, whose URL may hold a token) from its traceback; a flow left waiting
# by a failure is closed, which frees its own.


def _drive(
    flow: Generator[Call, Any, T],
    live: _redact.InFlight,
    *,
    service: Peer,
    timeout: float,
    verify: Verify,
) -> T:
    import httpx

    client = _answering.get() or _client(verify)
    cookies = httpx.Cookies()
    answer = None
    warned = False
    while True:
        try:
            call = flow.send(answer)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        live.add(call)
        warned = warned or warn_unverified(service, call.url, verify)
        answer = _send(client, call, service, timeout, cookies)
        ANSWERED_BY.set(_host(call.url))


async def _adrive(
    flow: Generator[Call, Any, T],
    live: _redact.InFlight,
    *,
    service: Peer,
    timeout: float,
    verify: Verify,
) -> T:
    """The async twin of ``_drive``, on a client borrowed for this flow."""
    import httpx

    cookies = httpx.Cookies()
    answer = None
    warned = False
    async with _aclient(verify) as borrowed:
        client = _answering_async.get() or borrowed
        while True:
            try:
                call = flow.send(answer)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            live.add(call)
            warned = warned or warn_unverified(service, call.url, verify)
            answer = await _asend(client, call, service, timeout, cookies)
            ANSWERED_BY.set(_host(call.url))


def _send(
    client: httpx.Client, call: Call, service: Peer, timeout: float, cookies: httpx.Cookies
) -> httpx.Response:
    """The answer to ``call``, its body read up to the call's bound (``nbauth._bounded``), sent
    again after a 503 while ``_retry_wait`` allows."""
    import httpx

    tries, waited = 0, 0.0
    while True:
        error: NbAuthError | None = None
        try:
            streamed = client.send(_request(client, call, timeout, cookies), stream=True)
            try:
                answer = _bounded.read(streamed, call, service)
            finally:
                streamed.close()
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            error = _transport_error(service, call, timeout, exc)
        except _bounded.Undecodable:
            error = _undecodable(service, call)
        if error is not None:
            raise error  # outside the except: no __context__ holding httpx's request
        _keep_cookies(cookies, answer)
        wait = _retry_wait(call, answer, tries, timeout - waited)
        if wait is None:
            return answer
        time.sleep(wait)
        tries, waited = tries + 1, waited + wait


async def _asend(
    client: httpx.AsyncClient,
    call: Call,
    service: Peer,
    timeout: float,
    cookies: httpx.Cookies,
) -> httpx.Response:
    """The async twin of ``_send``."""
    import httpx

    tries, waited = 0, 0.0
    while True:
        error: NbAuthError | None = None
        try:
            streamed = await client.send(_request(client, call, timeout, cookies), stream=True)
            try:
                answer = await _bounded.aread(streamed, call, service)
            finally:
                await streamed.aclose()
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            error = _transport_error(service, call, timeout, exc)
        except _bounded.Undecodable:
            error = _undecodable(service, call)
        if error is not None:
            raise error
        _keep_cookies(cookies, answer)
        wait = _retry_wait(call, answer, tries, timeout - waited)
        if wait is None:
            return answer
        await asyncio.sleep(wait)
        tries, waited = tries + 1, waited + wait


def _retry_wait(call: Call, answer: httpx.Response, tries: int, budget: float) -> float | None:
    """Seconds to wait before sending ``call`` again, or None to hand ``answer`` to the flow.

    Only a 503 to a GET or HEAD is retried: those change nothing on the server, while a login
    POST sent twice could count as two failed logins (or send a second SMS). The wait is the
    server's Retry-After, else an exponential backoff; a longer wait than MAX_WAIT, or than
    what is left of the timeout, is not waited for: the error comes at once instead.
    """
    if call.method not in IDEMPOTENT or answer.status_code != 503 or tries >= RETRIES:
        return None
    asked = retry_after_seconds(answer)
    wait = BACKOFF * 2**tries if asked is None else asked
    return wait if wait <= min(MAX_WAIT, budget) else None


def check_plain_http(
    url: str | httpx.URL,
    *,
    allow_insecure: bool,
    service: Peer,
    client: httpx.Client | httpx.AsyncClient | None = None,
) -> None:
    """Refuse an ``http://`` URL to another machine unless ``allow_insecure``: the password or
    token would cross the network in clear text. Loopback (127.0.0.0/8, ::1, localhost) never
    leaves the machine, so a local server or the sandbox needs no flag, unless httpx would send
    it through a proxy (HTTP_PROXY, ALL_PROXY... where NO_PROXY does not cover it): the proxy
    reads it in clear, so that is another machine too. The route is httpx's: ``client``'s own
    when given (a session's ``client()``), else that of nbauth's shared clients
    (``nbauth._urls``). ``url`` may come parsed by httpx already."""
    import httpx

    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)  # as httpx will connect
    except httpx.InvalidURL:
        return  # httpx can send nothing there
    if parsed.scheme != "http" or allow_insecure:
        return
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    if is_loopback(parsed.host):
        through = _urls.route(parsed, client)
        if through is None:
            return
        raise UsageError(
            f"{service.title}: http://{host} is plain HTTP, and httpx would send it through "
            f"{through}, which reads it in clear, password or token and all. Reach it directly "
            f"(for the proxy variables: NO_PROXY=127.0.0.1,localhost,::1), use https://, or if "
            "you trust that proxy, pass allow_insecure=True (%login: --allow-insecure).",
            service=service.name,
        )
    raise UsageError(
        f"{service.title}: http://{host} is plain HTTP to another machine, so the password or "
        "token would cross the network unencrypted. Use https://, or if you accept that risk "
        "(a network you trust), pass allow_insecure=True (%login: --allow-insecure).",
        service=service.name,
    )


@functools.lru_cache(maxsize=256)
def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine: ``localhost``, 127.0.0.0/8 or ::1."""
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def warn_unverified(service: Peer, url: str, verify: Verify) -> bool:
    """Warn (InsecureWarning, at the caller's line outside nbauth) when ``url`` is HTTPS and
    ``verify`` is False; return whether it warned."""
    if verify is not False or urlsplit(url).scheme != "https":
        return False
    host = urlsplit(url).netloc.rpartition("@")[2]
    _warnings.warn(
        InsecureWarning(
            f"{service.title}: TLS certificate verification is off (verify=False) for {host}, so "
            "whoever sits on the network path can pose as it and read the password or token. "
            "To trust a private CA, pass verify='/path/to/ca-bundle.pem' instead."
        )
    )
    return True


def _undecodable(service: Peer, call: Call) -> NbAuthError:
    host = urlsplit(call.url).netloc.rpartition("@")[2]
    return ConnectionFailed(
        f"{service.title}: the answer from {host} says it is compressed (Content-Encoding), but "
        "it does not decompress: it was cut off or broken on the way. Try again.",
        service=service.name,
    )


#: How OpenSSL says a TLS hello was answered by bytes that are no TLS record (a plain-HTTP
#: port): "wrong version number" up to OpenSSL 3.1, "record layer failure" since 3.2, and
#: "packet length too long" for some answers.
PLAIN_HTTP = ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG")


def _host(url: str) -> str:
    """The host and port of ``url`` as messages name it: never a user:password@ part."""
    return urlsplit(url).netloc.rpartition("@")[2]


def _transport_error(service: Peer, call: Call, timeout: float, exc: Exception) -> NbAuthError:
    """The NbAuthError for an httpx exception raised while sending ``call``."""
    import httpx

    parts = urlsplit(call.url)
    host = _host(call.url)
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
    if isinstance(exc, httpx.ConnectError) and any(sign in reason for sign in PLAIN_HTTP):
        # The TLS hello met a server that speaks plain HTTP: its answer is no TLS record.
        return ConnectionFailed(
            f"{title}: {host} does not speak HTTPS (what it answered to the TLS hello was "
            "not TLS: most likely a plain-HTTP port). Use the server's https:// address if it "
            "has one (its port may differ), else http:// (on loopback, like the sandbox, that "
            "needs no flag; to another machine, allow_insecure=True, and the password or token "
            "then crosses the network unencrypted).",
            service=service.name,
        )
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
