"""URLs: the one rule for a ``user:password@`` part, the paths of nbauth's fsspec filesystems,
and where httpx really sends a URL (the proxy variables).

**No credentials in a URL.** nbauth refuses every URL that carries a userinfo part
(``https://alice:pw@host``, ``https://TOKEN@host``) with a UsageError that names where the URL
came from and shows no part of it. A URL is kept and shown: in the Session's repr, the session
table, the login report, the form's URL field, the keyring entry's name; httpx would also send
its userinfo as HTTP Basic auth and log the URL. So every place that takes one calls
``refuse_userinfo`` before any request and before the URL is stored or shown: ``url=``,
``share_url=``, ``fileio_url=`` (``login``, ``alogin``, ``login_many``), ``client(base_url=)``
and the URLs a session's client is asked for, ``NBAUTH_<SERVICE>_URL`` and ``_SHARE_URL``,
``%login --url`` and ``--share-url``, ``NbAuth.urls``, the login form's URL field and
``LoginForm(url=)``, ``vault.forget(url=)``. ``couchdrop://`` and ``iogates://`` paths have a
rule of their own (``session_path``): the part before the path names a session, never a user,
a password or a host.

The check is deliberately wider than any one parser: text up to the first ``/ \\ ? #`` after the
scheme that holds an ``@`` is a userinfo (httpx, urllib and browsers all read it so), and so is
an ``@`` further on when the authority before it has a port that is no number, as when a
password holds a ``/``, ``?`` or ``#`` (``http://alice:p/w@host``: no parser takes it, but a
message quoting the URL would show the password).

**Proxies.** Plain HTTP is allowed to loopback because it never leaves the machine; through a
proxy (``HTTP_PROXY``, ``ALL_PROXY``...) it does. ``proxies()`` reads the proxy variables the
way httpx does (``httpx._utils.get_environment_proxies``, whose ``NO_PROXY`` rules are httpx's
own), again whenever one of them changed, and nbauth's shared clients are built from that same
reading (``Proxies.client_options``, a client per reading), so the route ``check_plain_http``
sees is the route the bytes take. A session's ``client()`` is a new httpx
client that reads the variables itself: its own routing decides (``route``).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import ssl
import threading
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import UsageError

if TYPE_CHECKING:
    import httpx

    from ._calls import Peer

__all__ = [
    "Proxies",
    "has_userinfo",
    "mask_proxy",
    "parsed",
    "proxies",
    "refusal",
    "refuse_userinfo",
    "route",
    "session_path",
    "without_userinfo",
]

# -- user:password@ -----------------------------------------------------------------------

#: What comes before the authority: blanks and control characters (which browsers strip), a
#: scheme, and any slashes or backslashes (browsers read ``http:\\host`` and ``http:/host`` as
#: ``http://host``).
_HEAD = re.compile(r"[\x00-\x20]*(?:[A-Za-z][A-Za-z0-9+.\-]*:)?[/\\]*")
_AUTHORITY = re.compile(r"[^/\\?#]*")
#: An authority without userinfo: a host (a bracketed IPv6 address or a name) and a numeric port.
_HOST_PORT = re.compile(r"(?:\[[^\]]*\]|[^:\[\]]*)(?::[0-9]*)?")


def _userinfo_end(url: str) -> int:
    """The index just past the ``@`` that ends ``url``'s userinfo; 0 when it has none."""
    if "@" not in url:  # the common case, at every login: no regular expression
        return 0
    match = _HEAD.match(url)
    head = match.end() if match else 0
    found = _AUTHORITY.match(url, head)
    authority = found.group() if found else ""
    if "@" in authority:
        return head + authority.rindex("@") + 1
    if "@" in url[head:] and not _HOST_PORT.fullmatch(authority):
        return url.rindex("@") + 1  # "alice:p/w@host": cut at the last @, to be sure
    return 0


def has_userinfo(url: object) -> bool:
    """Whether ``url`` (a str or an httpx.URL) holds a ``user:password@`` part."""
    text = _as_text(url)
    return text is not None and _userinfo_end(text) > 0


def without_userinfo(url: str) -> str:
    """``url`` with its ``user:password@`` part taken out (as it is when it has none)."""
    end = _userinfo_end(url)
    if not end:
        return url
    match = _HEAD.match(url)
    return url[: match.end() if match else 0] + url[end:]


def refuse_userinfo(url: object, name: str, service: Peer | None = None) -> None:
    """Raise a UsageError when ``url`` holds a ``user:password@`` part.

    ``name`` says where the URL came from (``url=``, ``NBAUTH_COUCHDROP_URL``, ``--url``,
    ``NbAuth.urls['couchdrop']``, the form's URL field); the message shows nothing of the URL.
    Anything that is not a str or an httpx.URL is left to the caller's own checks.
    """
    if has_userinfo(url):
        raise refusal(name, service)


def refusal(name: str, service: Peer | None = None) -> UsageError:
    """The UsageError for a URL from ``name`` that holds a ``user:password@`` part."""
    title, key = _service_names(service)
    return UsageError(
        f"{title + ': ' if title else ''}{name} has a user name or password in it (a "
        "user:password@ part before the host). nbauth takes no credentials in a URL, where they "
        "would be shown and stored with it: remove the user:password@ part, and give the "
        "credentials as username and password (or as a token).",
        service=key,
    )


def _service_names(service: Peer | None) -> tuple[str, str | None]:
    return ("", None) if service is None else (service.title, service.name)


def _as_text(url: object) -> str | None:
    """``url`` as text when it is a str or an httpx.URL, else None."""
    if isinstance(url, str):
        return url
    import httpx

    return str(url) if isinstance(url, httpx.URL) else None


@functools.lru_cache(maxsize=64)
def parsed(url: str) -> httpx.URL:
    """``url`` as httpx parses it (which takes tens of microseconds), kept for the few URLs a
    kernel's sessions use again and again. Never called with a URL that holds a secret."""
    import httpx

    return httpx.URL(url)


# -- couchdrop:// and iogates:// paths ----------------------------------------------------


def session_path(protocol: str, path: str) -> tuple[str | None, str]:
    """``PROTOCOL://[ALIAS@]/path`` as (alias or None, the path after the ``//``).

    The part before the path names a session stored in this kernel: never a user name and
    password (``couchdrop://alice:pw@/x``), which would be shown wherever the path is, and
    never a host (``couchdrop://example.com/x``), which nbauth would otherwise drop without a
    word. Both are UsageErrors; the first shows nothing of what was given. A ``path`` without
    the ``PROTOCOL://`` prefix is returned as it is, with no alias.
    """
    prefix = f"{protocol}://"
    if not path.startswith(prefix):
        return None, path
    rest = path[len(prefix) :]
    if not rest or rest.startswith("/"):
        return None, rest
    head, slash, tail = rest.partition("/")
    alias, at, after = head.rpartition("@")
    if at and alias and not after and ":" not in alias and "@" not in alias:
        return alias, slash + tail
    how = (
        f"{prefix}ALIAS@/path names the session stored as ALIAS (nbauth.login(..., "
        f"alias='ALIAS') or %login {protocol} --as ALIAS), {prefix}/path (three slashes) the "
        "current one"
    )
    if at or not _HOST_PORT.fullmatch(head):
        raise UsageError(
            f"{prefix} paths take no user name, password or host: the part before the path "
            f"names a session stored in this kernel ({how}). Log in first, and leave the "
            "credentials out of the path.",
            service=protocol,
        )
    raise UsageError(
        f"{prefix}{head}/...: {head!r} is not a host here; the part before the path names a "
        f"session stored in this kernel ({how}). So: {prefix}{head}@/{tail} if '{head}' is a "
        f"session's alias, or {prefix}/{rest} if it is a folder.",
        service=protocol,
    )


# -- proxies -------------------------------------------------------------------------------

#: The variables httpx's proxy reading depends on, for the doctor; urllib also reads any other
#: ``*_proxy`` (either case), and drops http_proxy when REQUEST_METHOD is set (a CGI script).
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
#: Which variable a proxy key of get_environment_proxies comes from.
_KEY_VARIABLE = {"http://": "HTTP_PROXY", "https://": "HTTPS_PROXY", "all://": "ALL_PROXY"}


@dataclass(frozen=True)
class Proxies:
    """The proxy variables as httpx reads them, at one moment.

    ``keys`` is ``get_environment_proxies()``: a pattern (``http://``, ``all://*example.com``)
    to a proxy URL, or None for a NO_PROXY entry. ``patterns`` are the same, as httpx's
    ``URLPattern``, in the order httpx tries them (most specific first).
    """

    generation: int
    keys: dict[str, str | None]
    patterns: tuple[tuple[Any, str | None, str], ...]
    fingerprint: int = 0

    def proxy_for(self, url: httpx.URL) -> tuple[str, str] | None:
        """(the proxy's host[:port], the variable it comes from) when httpx sends ``url``
        through a proxy, or None when it goes there directly; as httpx's
        ``Client._transport_for_url`` decides, on the same patterns in the same order."""
        for pattern, proxy, key in self.patterns:
            if pattern.matches(url):
                return None if proxy is None else (_proxy_host(proxy), _variable(key))
        return None

    def client_options(self, verify: ssl.SSLContext, asynchronous: bool) -> dict[str, Any]:
        """The keyword arguments that make an httpx client route as this reading says: env
        proxies off (``trust_env=False``), the same routes mounted instead."""
        import httpx

        kind = httpx.AsyncHTTPTransport if asynchronous else httpx.HTTPTransport
        mounts = {
            key: None if proxy is None else kind(verify=verify, proxy=httpx.Proxy(proxy))
            for key, proxy in self.keys.items()
        }
        return {"trust_env": False, "mounts": mounts}


_lock = threading.Lock()
_current: Proxies | None = None
_generations = 0
#: The variables whose values decide what get_environment_proxies reads, in the form os.environ
#: keeps them (on Windows its keys are upper case: both spellings are then one).
_WATCHED = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "REQUEST_METHOD")


_NAMES = tuple(spelling for name in _WATCHED for spelling in (name, name.upper()))


def _fingerprint() -> int:
    """A hash of the watched variables' values: a change of any of them means a new reading
    (a hash, so that no frame or reading holds a proxy's password). Read from os.environ's own
    dict, a microsecond where ten ``os.environ.get`` take twenty; urllib also reads mixed-case
    spellings (``Http_Proxy``), which are not watched."""
    data = getattr(os.environ, "_data", None)
    if data is None:  # not CPython's os.environ
        return hash(tuple(os.environ.get(name) for name in _NAMES))
    return hash(tuple(map(data.get, _keys())))


@functools.cache
def _keys() -> tuple[Any, ...]:
    encode = getattr(os.environ, "encodekey", None)
    return tuple(encode(name) if encode else name for name in _NAMES)


def proxies() -> Proxies:
    """The proxy variables as nbauth's shared clients use them: read again whenever one of them
    changed since the last reading (each reading has a new ``generation``, and the shared
    clients are made anew for it). A variable httpx cannot use is a UsageError naming it (and
    showing no password)."""
    global _current, _generations
    fingerprint = _fingerprint()
    current = _current
    if current is not None and current.fingerprint == fingerprint:
        return current
    made = read_proxies()
    with _lock:
        _generations += 1
        _current = Proxies(_generations, made.keys, made.patterns, fingerprint)
        return _current


def read_proxies() -> Proxies:
    """The proxy variables as httpx reads them now, checked the way an httpx client would use
    them (each proxy URL as ``httpx.Proxy``, each pattern as ``URLPattern``), so that a bad
    one is a UsageError here instead of httpx's InvalidURL, whose text can quote a password.
    The error holds nothing of the values: no chained exception, no frame's locals."""
    try:
        return _read_proxies()
    except UsageError as exc:
        error = exc
    traceback.clear_frames(error.__traceback__)
    raise error


def _read_proxies() -> Proxies:
    from httpx._utils import URLPattern, get_environment_proxies

    keys = get_environment_proxies()
    routes = []
    for key, proxy in keys.items():
        if proxy is not None:
            _check_proxy(key, proxy)
        try:
            pattern = URLPattern(key)
        except Exception:  # httpx.InvalidURL, ValueError: a NO_PROXY entry no URL can hold
            pattern = None
        if pattern is None:  # raised here, not in the except: nothing chained
            raise UsageError(
                f"NO_PROXY holds an entry httpx cannot read ({key.split('://', 1)[-1]!r}). "
                "List host names, IP addresses or networks, separated by commas."
            )
        routes.append((pattern, proxy, key))
    routes.sort(key=lambda item: item[0])  # httpx's order: port, longer host, longer scheme
    return Proxies(0, keys, tuple(routes))


def _check_proxy(key: str, proxy: str) -> None:
    import httpx

    name = _variable(key)
    try:
        parsed: httpx.Proxy | None = httpx.Proxy(proxy)
    except Exception:  # httpx.InvalidURL, ValueError (an unknown scheme): their text quotes it
        parsed = None
    if parsed is None:  # raised here, not in the except: nothing chained
        raise UsageError(
            f"{name} is not a proxy URL httpx can use, so no request can be sent. Write it as "
            "http://host:port (or https://, socks5://), with a user name and password as "
            "http://user:password@host:port, and percent-encode the characters # ? / @ : of a "
            "password (%23 %3F %2F %40 %3A). %nbauth doctor shows it with the password hidden."
        )
    if parsed.url.scheme.startswith("socks") and importlib.util.find_spec("socksio") is None:
        raise UsageError(
            f"{name} is a SOCKS proxy, which httpx reaches only with the socksio package: "
            "pip install 'httpx[socks]'."
        )


def _variable(key: str) -> str:
    """The variable a proxy key comes from, as it is spelled in this environment."""
    name = _KEY_VARIABLE.get(key, "NO_PROXY")
    for spelling in (name.lower(), name):
        if os.environ.get(spelling):
            return spelling
    return f"{name} (the system's proxy settings)"


def _proxy_host(proxy: str) -> str:
    """``host:port`` of a proxy URL, without its user name and password."""
    import httpx

    url = httpx.Proxy(proxy).url
    host = f"[{url.host}]" if ":" in url.host else url.host
    return f"{host}:{url.port}" if url.port else host


def route(url: httpx.URL, client: httpx.Client | httpx.AsyncClient | None = None) -> str | None:
    """Through what ``url`` would go, or None when httpx connects to its host directly: with
    ``client``, as that client routes it; without, as nbauth's shared clients do."""
    if client is None:
        found = proxies().proxy_for(url)
        return None if found is None else f"the proxy {found[0]} (from {found[1]})"
    try:
        transport = client._transport_for_url(url)
        direct = transport is client._transport
    except AttributeError:  # another httpx: decide as its documented environment rules say
        found = read_proxies().proxy_for(url)
        return None if found is None else f"the proxy {found[0]} (from {found[1]})"
    if direct:
        return None
    proxy = getattr(getattr(transport, "_pool", None), "_proxy_url", None)
    if proxy is not None:
        host = proxy.host.decode("ascii", "replace")
        return f"the client's proxy {host}:{proxy.port}" if proxy.port else f"the proxy {host}"
    return "a transport mounted on the client (a proxy, as far as nbauth can tell)"


def mask_proxy(value: str) -> str:
    """A proxy variable's value as ``scheme://host:port`` and nothing more: any
    ``user:password@`` replaced by ``***@``, in every form httpx takes (with or without a
    scheme, with ``# ? / @ :`` or ``%40`` in the password: everything up to the last ``@``
    goes), and any path, query or fragment left out (``/?auth=...`` may be a credential)."""
    value = value.strip()
    scheme = _SCHEME.match(value)
    start = scheme.end() if scheme else 0
    rest = value[start:]
    userinfo = "@" in rest
    if userinfo:
        rest = rest.rpartition("@")[2]
    host = re.split(r"[/?#]", rest, maxsplit=1)[0]
    return f"{value[:start]}{'***@' if userinfo else ''}{host}"


#: A proxy URL's scheme, as httpx takes it ("user:pw@host" has none: its "user:" is no scheme).
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
