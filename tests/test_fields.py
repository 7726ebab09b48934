"""One table of login fields: a service that needs a field of its own declares it once, and every
face takes it without any other edit.

The made-up service here is a real third-party one: a package on ``sys.path`` with its own
``*.dist-info`` registering ``tenantsvc`` in the ``nbauth.services`` entry point group, which
declares ``Field("tenant", ...)`` and a password login that needs it, against a small server on
loopback that checks the tenant. Then ``nbauth.login``, ``login_many``, ``%login`` (its option,
the environment, the prompt) and the form all log in with a tenant.
"""

import http.server
import json
import textwrap
import threading
from urllib.parse import parse_qs

import pytest
from helpers import installed_service

import nbauth
from nbauth import services
from nbauth.services.fields import BUILT_IN

SERVICE = """
from nbauth._calls import Call
from nbauth.errors import AccessDenied
from nbauth.secret import Secret
from nbauth.services.answers import fail, field_of, json_body
from nbauth.services.base import Granted, Method, Service
from nbauth.services.fields import COMMON, Field

TENANT = Field("tenant", "Tenant", option="--tenant", help="the tenant (organisation)")


class TenantService(Service):
    name = "tenantsvc"
    title = "Tenant Service"
    default_url = "https://tenants.example.com"
    fields = (*COMMON, TENANT)
    methods = (Method("password", "password", ("tenant", "username", "password")),)

    def login_flow(self, creds):
        body = {
            "tenant": creds.text("tenant"),
            "username": creds.username,
            "password": creds.password,
        }
        response = yield Call("POST", f"{creds.url}/login", data=body)
        if response.status_code == 403:
            raise fail(self, AccessDenied, "login", 403, "wrong tenant, username or password.")
        token = field_of(self, json_body(self, response, "login"), "token", str, "login", 200)
        return Granted(Secret(token, "token"), creds.username, "password")

    def auth_headers(self, session):
        return {"Authorization": Secret(f"Bearer {session.token.reveal()}")}
"""
PASSWORD = "tenant-password-canary-4Kq9"


@pytest.fixture(scope="module")
def server():
    """Logs in alice of acme with PASSWORD; anything else is refused."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            good = form == {"tenant": "acme", "username": "alice", "password": PASSWORD}
            body = json.dumps({"token": "tenant-token-0123456789"} if good else {"error": "no"})
            self.send_response(200 if good else 403)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args):
            pass

    made = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=made.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{made.server_address[1]}"
    made.shutdown()


@pytest.fixture
def tenant_service(tmp_path, monkeypatch, server):
    """The third-party package, installed on sys.path with its entry point."""
    monkeypatch.setenv("NBAUTH_TENANTSVC_URL", server)
    with installed_service(
        tmp_path, monkeypatch, "tenantsvc", "tenantsvc_module", SERVICE, "TenantService"
    ):
        yield server


def test_the_api_takes_the_field(tenant_service):
    s = nbauth.login(
        "tenantsvc", url=tenant_service, tenant="acme", username="alice", password=PASSWORD
    )
    assert s.token.reveal() == "tenant-token-0123456789"
    with pytest.raises(nbauth.AccessDenied):
        nbauth.login(
            "tenantsvc", url=tenant_service, tenant="other", username="alice", password=PASSWORD
        )


def test_a_misspelt_field_is_named_with_a_guess(tenant_service):
    with pytest.raises(nbauth.UsageError, match=r"tennant= \(did you mean tenant=\?\)"):
        nbauth.login("tenantsvc", tennant="acme", username="alice", password=PASSWORD)


def test_login_many_takes_the_column_and_leaves_the_secrets_out(tenant_service):
    rows = [
        {
            "service": "tenantsvc",
            "url": tenant_service,
            "tenant": "acme",
            "username": "alice",
            "password": PASSWORD,
        }
    ]
    frame = nbauth.login_many(rows, storage=False)
    assert list(frame["ok"]) == [True]
    assert PASSWORD not in frame.to_string() and "password" not in frame.columns


def test_the_magic_takes_its_option_and_the_environment(tenant_service, ip, monkeypatch):
    monkeypatch.setenv("NBAUTH_TENANTSVC_PASSWORD", PASSWORD)
    monkeypatch.setenv("NBAUTH_NONINTERACTIVE", "1")
    s = ip.run_line_magic("login", "tenantsvc --tenant acme -u alice")
    assert s.token.reveal() == "tenant-token-0123456789"
    monkeypatch.setenv("NBAUTH_TENANTSVC_TENANT", "acme")
    monkeypatch.setenv("NBAUTH_TENANTSVC_USERNAME", "alice")
    s = ip.run_line_magic("login", "tenantsvc --as again")
    assert s.alias == "again" and s.username == "alice"
    monkeypatch.delenv("NBAUTH_TENANTSVC_TENANT")
    with pytest.raises(nbauth.UsageError, match="NBAUTH_TENANTSVC_TENANT"):
        ip.run_line_magic("login", "tenantsvc --as third")  # nobody to ask: names the variable


def test_the_prompt_asks_for_it(tenant_service, monkeypatch):
    from nbauth import api, prompt
    from nbauth.request import LoginRequest

    typed = iter(["acme", "alice"])
    monkeypatch.setattr("builtins.input", lambda text: next(typed))
    monkeypatch.setattr(prompt.getpass, "getpass", lambda text: PASSWORD)
    request = LoginRequest.from_environment("tenantsvc", {})
    prompt.fill(request)
    assert api.run(request).username == "alice"


def test_the_form_shows_a_widget_for_it(tenant_service):
    from nbauth.form import LoginForm

    form = LoginForm("tenantsvc", url=tenant_service)
    tenant = form._fields["tenant"]
    assert tenant.description == "Tenant" and tenant.layout.display != "none"
    tenant.value, form.username.value, form.password.value = "acme", "alice", PASSWORD
    form.button.click()
    assert form.session is not None and form.session.username == "alice"


def test_the_built_in_services_declare_only_the_table_s_fields():
    for name in ("couchdrop", "rocketchat", "iogates"):
        for field in services.get(name).fields:
            assert field in BUILT_IN
        for method in services.get(name).methods:
            assert set(method.fields) <= {f.name for f in services.get(name).fields}


def test_the_password_screen_knows_every_option_of_the_magic(ip):
    """The screen reads the line with the parser's own options: none it does not know."""
    from nbauth import magics

    parser = magics.NbAuthMagics.login.parser
    options = {o for action in parser._actions for o in action.option_strings}
    assert options == magics.VALUED | magics.FLAGS
    assert textwrap.dedent("--user-id") in magics.VALUED and "--token" in magics.FLAGS
