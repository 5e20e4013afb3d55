"""Web security for the Gradio server: same-origin only, security headers, sign-in rate limit.

Why this exists: Gradio's own CORS middleware echoes any localhost Origin with
``Access-Control-Allow-Credentials: true``, so a page served from another port of the same
machine could read ``/config`` and call ``queue/join`` (delete a document) in a signed-in
browser. Gradio also sends no CSP or framing headers and lets a client try passwords as fast
as it can send them.

`SecurityMiddleware` wraps the whole ASGI app (outside Gradio's own middleware, so its CORS
answers never reach a browser):

* a request whose ``Origin`` is not the page's own (or one listed in `allowed_origins`) gets
  403, whatever its method: no other origin can read a response or change anything; CORS
  response headers are removed, so CORS is off;
* on a loopback server, a ``Host`` that is not a loopback name is refused (DNS rebinding);
* every response carries CSP, X-Frame-Options, X-Content-Type-Options, Referrer-Policy and
  Cross-Origin-*-Policy headers; HTML pages get a fresh nonce on each of their scripts;
* ``POST /login`` is limited per client address (`LoginLimiter`).

`secured_app(...)` builds the Gradio `App` with this wrapper, for ``Blocks.launch(_app=...)``.
Nothing here imports Gradio at module level or has side effects at import.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import html
import ipaddress
import json
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from assistant.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PAGE_PATHS = frozenset({"/", ""})  # where Gradio serves the app's page (no multipage routes)
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_SCRIPT_TAG = re.compile(rb"<script(?=[\s>])", re.IGNORECASE)
_INLINE_SCRIPT = re.compile(r"<script(?:\s[^>]*)?>(.*?)</script>", re.IGNORECASE | re.DOTALL)

# What Gradio's page needs, and nothing more (checked in a real browser, tests/test_web_security):
# - scripts: its own bundles ('self'), the inline config/boot scripts of index.html (a nonce
#   per response), the `head` scripts it re-creates from the config (their hashes), and
#   'unsafe-eval' because gr.HTML renders every value through `Function(...)`
#   (its html_template); inline event handlers such as onerror= stay blocked;
# - styles: Svelte and the theme set inline styles and <style> elements ('unsafe-inline');
# - images, media and fonts: its own files plus data:/blob: URLs (previews, downloads);
# - no plugins, no other frame may embed it, forms post only to itself.
CSP_TEMPLATE = (
    "default-src 'self'; "
    "script-src 'self' {script_sources} 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; "
    "media-src 'self' data: blob:; "
    "font-src 'self' data:; "
    "connect-src 'self'; "
    "worker-src 'self' blob:; "
    "frame-src 'self' blob:; "
    "object-src 'none'; "
    "base-uri 'self'; "
    "form-action 'self'; "
    "frame-ancestors 'none'"
)
STATIC_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}


def toast_text(message: object) -> str:
    """A message safe to pass to gr.Error/gr.Warning/gr.Info: Gradio renders toasts as HTML.

    File names and library messages can hold ``<img src=...>`` or ``<form>``; escaped, they
    show as the characters they are. Lone surrogates are replaced (they cannot be sent).
    """
    return html.escape(clean_text(str(message)), quote=False)


def clean_text(text: str) -> str:
    """`text` with invalid code points (lone surrogates) replaced by U+FFFD; pairs are joined."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def script_hashes(head: str | None) -> tuple[str, ...]:
    """CSP sources ('sha256-...') for the inline scripts of the `head` HTML.

    Gradio's page re-creates these scripts from its config (copying their text), so they carry
    no nonce; their hashes are what lets exactly these scripts run.
    """
    found = []
    for body in _INLINE_SCRIPT.findall(head or ""):
        digest = hashlib.sha256(body.encode("utf-8")).digest()
        found.append(f"'sha256-{base64.b64encode(digest).decode('ascii')}'")
    return tuple(dict.fromkeys(found))


# ----------------------------------------------------------------------------- origins
def _netloc(scheme: str, host: str, port: int | None) -> tuple[str, int] | None:
    host = host.strip().lower().strip("[]")
    if not host:
        return None
    return host, port if port is not None else DEFAULT_PORTS.get(scheme, 80)


def parse_origin(origin: str) -> tuple[str, int] | None:
    """(host, port) of an Origin header value; None for "null" or anything unparsable."""
    try:
        parts = urlsplit(origin.strip())
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            return None
        return _netloc(parts.scheme, parts.hostname, parts.port)
    except ValueError:
        return None


def parse_host(host: str, scheme: str) -> tuple[str, int] | None:
    """(host, port) of a Host header value as the server received it."""
    try:
        parts = urlsplit(f"//{host.strip()}")
        if not parts.hostname:
            return None
        return _netloc(scheme, parts.hostname, parts.port)
    except ValueError:
        return None


def _names_this_server(origin: tuple[str, int], host: tuple[str, int], scheme: str) -> bool:
    """Whether an Origin names this server as the request reached it (its Host header).

    Behind a TLS proxy the page is https://h while the server sees plain http with Host h,
    so a Host without an explicit port matches the origin's default port as well.
    """
    if origin == host:
        return True
    return origin[0] == host[0] and host[1] == DEFAULT_PORTS[scheme] and origin[1] in (80, 443)


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost): a bind
    address (`ui.app.check_exposure`) or a request's Host; a DNS name such as
    127.evil.example is not one."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name: assume it is reachable from elsewhere


# ----------------------------------------------------------------------------- rate limits
class SlidingWindowLimiter:
    """At most `limit` events per `window_s` seconds per key (e.g. a client address).

    The table is pruned as it is used, so many distinct keys cannot grow it without bound.
    """

    MAX_KEYS = 10_000

    def __init__(
        self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float:
        """Record one event; 0.0 when allowed, else the seconds until one will be (not recorded)."""
        now = self.clock()
        with self._lock:
            if len(self._events) > self.MAX_KEYS:
                self._prune(now)
            events = self._events.setdefault(key, deque())
            while events and events[0] <= now - self.window_s:
                events.popleft()
            if len(events) >= self.limit:
                return max(events[0] + self.window_s - now, 0.001)
            events.append(now)
            return 0.0

    def _prune(self, now: float) -> None:
        for key in [k for k, v in self._events.items() if not v or v[-1] <= now - self.window_s]:
            del self._events[key]


@dataclass
class _LoginState:
    failures: list[float] = field(default_factory=list)
    in_flight: int = 0
    locked_until: float = 0.0


class LoginLimiter:
    """Failed sign-ins per client: after `max_failures` in `window_s`, lock out for `lockout_s`.

    Attempts still being checked count as failures until they succeed, so a burst of parallel
    guesses gets no more tries than a sequential one. While locked out every attempt is
    refused, the right password included; the lock-out lifts by itself.
    """

    MAX_CLIENTS = 10_000

    def __init__(
        self,
        max_failures: int,
        window_s: float,
        lockout_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.lockout_s = lockout_s
        self.clock = clock
        self._clients: dict[str, _LoginState] = {}
        self._lock = threading.Lock()

    def begin(self, client: str) -> float:
        """Start an attempt: 0.0 when it may proceed, else the seconds left of the lock-out."""
        now = self.clock()
        with self._lock:
            if len(self._clients) > self.MAX_CLIENTS:
                self._prune(now)
            state = self._clients.setdefault(client, _LoginState())
            if state.locked_until > now:
                return state.locked_until - now
            state.failures = [t for t in state.failures if t > now - self.window_s]
            if len(state.failures) + state.in_flight >= self.max_failures:
                self._lock_out(state, now)
                return self.lockout_s
            state.in_flight += 1
            return 0.0

    def finish(self, client: str, success: bool) -> None:
        """End an attempt begun with `begin` (success clears the client's failures)."""
        now = self.clock()
        with self._lock:
            state = self._clients.setdefault(client, _LoginState())
            state.in_flight = max(state.in_flight - 1, 0)
            if success:
                state.failures.clear()
                return
            state.failures.append(now)
            if len(state.failures) >= self.max_failures:
                self._lock_out(state, now)

    def _lock_out(self, state: _LoginState, now: float) -> None:
        state.locked_until = max(state.locked_until, now + self.lockout_s)
        state.failures.clear()  # after the lock-out the client starts afresh

    def _prune(self, now: float) -> None:
        for key, state in list(self._clients.items()):
            idle = state.in_flight == 0 and state.locked_until <= now
            if idle and all(t <= now - self.window_s for t in state.failures):
                del self._clients[key]


# ----------------------------------------------------------------------------- middleware
@dataclass(frozen=True)
class WebPolicy:
    """What the middleware enforces, built once from Settings (see `policy_from_settings`)."""

    extra_origins: frozenset[tuple[str, int]] = frozenset()
    loopback_only: bool = True
    head_script_hashes: tuple[str, ...] = ()
    login_max_failures: int = 5
    login_window_s: float = 600.0
    login_lockout_s: float = 300.0

    def csp(self, nonce: str | None = None) -> str:
        sources = list(self.head_script_hashes)
        if nonce:
            sources.insert(0, f"'nonce-{nonce}'")
        return CSP_TEMPLATE.format(script_sources=" ".join(sources)).replace("  ", " ")


def policy_from_settings(settings: Settings, server_name: str, head: str | None) -> WebPolicy:
    """The policy for a server bound to `server_name` whose page has the given `head` HTML."""
    from ui.app import ServeError

    extra: set[tuple[str, int]] = set()
    for raw in (settings.allowed_origins or "").split(","):
        if not raw.strip():
            continue
        parsed = parse_origin(raw)
        if parsed is None:
            raise ServeError(
                f"allowed_origins: {raw.strip()!r} is not an origin like https://host[:port]"
            )
        extra.add(parsed)
    return WebPolicy(
        extra_origins=frozenset(extra),
        loopback_only=is_loopback(server_name),
        head_script_hashes=script_hashes(head),
        login_max_failures=settings.login_max_failures,
        login_window_s=settings.login_window_s,
        login_lockout_s=settings.login_lockout_s,
    )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class SecurityMiddleware:
    """ASGI wrapper enforcing a `WebPolicy` around the whole Gradio app (see module docstring)."""

    def __init__(self, app: ASGIApp, policy: WebPolicy) -> None:
        self.app = app
        self.policy = policy
        self.logins = LoginLimiter(
            policy.login_max_failures, policy.login_window_s, policy.login_lockout_s
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope)
        if refusal is not None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await self._respond(send, 403, refusal)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "POST" and scope["path"].rstrip("/").endswith("/login"):
            await self._login(scope, receive, send)
            return
        await self.app(scope, receive, self._sender(send, page=self._is_page(scope)))

    @staticmethod
    def _is_page(scope: Scope) -> bool:
        """The app's own page (GET /): the only HTML whose scripts get this response's nonce.

        Any other HTML (an uploaded .html served by the file route) keeps the CSP without a
        nonce, so its inline scripts cannot run on this origin.
        """
        return scope.get("method") == "GET" and scope.get("path") in PAGE_PATHS

    # ------------------------------------------------------------------ checks
    def refusal(self, scope: Scope) -> str | None:
        """Why a request must be refused (403), or None when it may go on."""
        scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
        host = parse_host(_header(scope, b"host") or "", scheme)
        if host is None:
            return "The request has no valid Host header."
        allowed_hosts = {h for h, _ in self.policy.extra_origins}
        if self.policy.loopback_only and not is_loopback(host[0]):
            if host[0] not in allowed_hosts:
                return f"Unknown host {host[0]!r}: this server answers on loopback names only."
        origin = _header(scope, b"origin")
        if origin is not None:
            parsed = parse_origin(origin)
            same = parsed is not None and _names_this_server(parsed, host, scheme)
            if not same and parsed not in self.policy.extra_origins:
                return "Cross-origin requests are not allowed."
        elif scope.get("method", "GET") not in SAFE_METHODS:
            # no Origin: a non-browser client, or a browser telling us through Sec-Fetch-Site
            site = _header(scope, b"sec-fetch-site")
            if site in ("cross-site", "same-site"):
                return "Cross-origin requests are not allowed."
        return None

    # ------------------------------------------------------------------ sign-in
    async def _login(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = _client(scope)
        wait = self.logins.begin(client)
        if wait > 0:
            seconds = int(wait + 0.999)
            await self._respond(
                send,
                429,
                f"Too many failed sign-in attempts from this address: sign-in is refused for "
                f"{seconds} more seconds, even with the right password. Wait, then try again.",
                extra=((b"retry-after", str(seconds).encode()),),
            )
            return
        status: list[int] = []
        inner = self._sender(send, page=False)

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await inner(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            # 200 signed in (302: the app has no password); 4xx wrong credentials; no response
            # (a crash) counts as a failure too, so failing requests cannot bypass the limit
            self.logins.finish(client, success=bool(status) and status[0] < 400)

    # ------------------------------------------------------------------ responses
    def _headers(self, raw: Iterable[tuple[bytes, bytes]], csp: str) -> list[tuple[bytes, bytes]]:
        kept = [
            (k, v)
            for k, v in raw
            if not k.lower().startswith(b"access-control-")
            and k.lower().decode("latin-1") not in STATIC_HEADERS
            and k.lower() != b"content-security-policy"
        ]
        kept += [(k.encode(), v.encode()) for k, v in STATIC_HEADERS.items()]
        kept.append((b"content-security-policy", csp.encode()))
        return kept

    def _sender(self, send: Send, page: bool) -> Send:
        """A `send` that adds the headers; for the app's `page`, nonces on its scripts."""
        pending: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if page and ctype.lower().startswith(b"text/html"):
                    pending["start"] = message
                    return
                message["headers"] = self._headers(headers, self.policy.csp())
                await send(message)
                return
            if message["type"] == "http.response.body" and "start" in pending:
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                await self._send_html(send, pending.pop("start"), b"".join(chunks))
                return
            await send(message)

        return wrapped

    async def _send_html(self, send: Send, start: Message, body: bytes) -> None:
        headers = list(start.get("headers") or [])
        encoding = next((v for k, v in headers if k.lower() == b"content-encoding"), b"")
        nonce = secrets.token_urlsafe(18)
        try:
            if encoding.lower() == b"br":
                import brotli

                body = brotli.decompress(body)
            elif encoding.lower() == b"gzip":
                body = gzip.decompress(body)
            elif encoding:
                raise ValueError(encoding)
            body = _SCRIPT_TAG.sub(f'<script nonce="{nonce}"'.encode(), body)
            headers = [
                (k, v)
                for k, v in headers
                if k.lower() not in (b"content-encoding", b"content-length")
            ]
            headers.append((b"content-length", str(len(body)).encode()))
            csp = self.policy.csp(nonce)
        except Exception:  # an encoding we cannot undo: the page as is, its scripts blocked
            csp = self.policy.csp()
        start = dict(start)
        start["headers"] = self._headers(headers, csp)
        await send(start)
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _respond(
        self, send: Send, status: int, message: str, extra: tuple[tuple[bytes, bytes], ...] = ()
    ) -> None:
        body = json.dumps({"detail": message, "error": message}).encode("utf-8")
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *extra,
        ]
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": self._headers(headers, self.policy.csp()),
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})


def secured_app(policy: WebPolicy, debug: bool = False) -> Any:
    """A Gradio `App` whose whole middleware stack is wrapped in `SecurityMiddleware`.

    Passed to ``Blocks.launch(_app=...)`` (the hook Gradio's own `gr.Server` uses): Gradio adds
    its CORS and compression middleware inside, so this wrapper is outermost and sees, and
    can refuse, every request before any Gradio code runs.
    """
    from gradio.routes import App, ORJSONResponse

    class SecuredApp(App):
        def build_middleware_stack(self) -> Any:
            return SecurityMiddleware(super().build_middleware_stack(), policy)

    return SecuredApp(default_response_class=ORJSONResponse, debug=debug)
