"""The /api routes the console adds: log-in and sessions, passwords, users' own keys, redemption codes and the
dashboards (rows of the same route table as the rest of the admin API, so the OpenAPI document lists them)."""

from __future__ import annotations

from collections.abc import Awaitable

from aiohttp import web

from relaygate.admin import console_schemas as cs
from relaygate.admin import schemas as s
from relaygate.admin.logins import Login
from relaygate.server.admin_api import SESSION_COOKIE, AdminCall, AdminRoute
from relaygate.server.openai_routes import client_ip
from relaygate.server.params import Param

_DASHBOARD_QUERY = (
    Param("range", "text", "24h, 7d (the default), 30d or 90d, ending now"),
    Param("granularity", "text", "hour or day (default: hour for 24h, else day)"),
)


def _session(c: AdminCall, user: s.UserOut | None, csrf_token: str | None) -> cs.SessionOut:
    return cs.SessionOut(user=user, csrf_token=csrf_token, registration=c.svc.settings.registration,
                         time_zone=c.svc.settings.time_zone)


def _keep(c: AdminCall, login: Login) -> cs.SessionOut:
    secure = c.request.secure

    def cookie(response: web.Response) -> None:
        response.set_cookie(SESSION_COOKIE, login.token, max_age=login.max_age, path="/", httponly=True,
                            samesite="Lax", secure=secure)
    c.then.append(cookie)
    return _session(c, login.user, login.csrf_token)


def _forget(c: AdminCall) -> None:
    if SESSION_COOKIE in c.request.cookies:
        c.then.append(lambda r: r.del_cookie(SESSION_COOKIE, path="/"))


async def _login(c: AdminCall) -> cs.SessionOut:
    return _keep(c, await c.svc.logins.login(c.body, client_ip(c.request)))


async def _register(c: AdminCall) -> cs.SessionOut:
    return _keep(c, await c.svc.logins.register(c.body, client_ip(c.request)))


async def _current(c: AdminCall) -> cs.SessionOut:
    if c.found is None:
        _forget(c)  # a cookie of a session that ended
        return _session(c, None, None)
    return _session(c, await c.op.user(c.found.user_id), c.found.csrf_token)


async def _logout(c: AdminCall) -> None:
    if c.found is not None and c.found.session is not None:
        await c.svc.logins.logout(c.found.session)
    _forget(c)


async def _dashboard(c: AdminCall, user_id: int | None) -> cs.DashboardOut:
    return await c.op.dashboard(cs.DashboardQuery(**c.query), c.svc.settings.time_zone, user_id)


async def _password(c: AdminCall) -> s.UserOut:
    return await c.svc.logins.change_password(c.caller.user_id, c.body, c.caller.session)


ACCOUNT_ROUTES: tuple[AdminRoute, ...] = (
    AdminRoute("GET", "/api/auth/session", _current, "Who is logged in: 200 with user null before log-in",
               returns=cs.SessionOut, audience="public"),
    AdminRoute("POST", "/api/auth/login", _login, "Log in to the console: a session cookie (HttpOnly, SameSite=Lax) "
               "and the CSRF token to send as X-CSRF-Token", body=cs.LoginIn, returns=cs.SessionOut,
               audience="anyone", errors=(429,)),
    AdminRoute("POST", "/api/auth/logout", _logout, "End the session (on the server; the cookie is refused after)",
               audience="public"),
    AdminRoute("POST", "/api/auth/register", _register, "Create your own account, when the operator allows it "
               "(RELAYGATE_REGISTRATION)", body=cs.RegisterIn, returns=cs.SessionOut, audience="anyone",
               conflicts=True),
    AdminRoute("PUT", "/api/users/{id}/password", lambda c: c.op.set_password(c.id(), c.body.password),
               "Set or reset a user's console password (their sessions end)", body=cs.PasswordSet,
               returns=s.UserOut),
    AdminRoute("GET", "/api/channel-types", lambda c: c.op.channel_types(), "Channel types and the options each "
               "takes (the console's channel form)", returns=cs.ChannelTypeOut, many=True),
    AdminRoute("GET", "/api/dashboard", lambda c: _dashboard(c, None), "Everyone's usage: today, over time, per "
               "model and per channel", returns=cs.DashboardOut, query=_DASHBOARD_QUERY),
    AdminRoute("GET", "/api/redemptions", lambda c: c.op.codes(), "Redemption codes, newest first (hints only)",
               returns=cs.CodeOut, many=True),
    AdminRoute("POST", "/api/redemptions", lambda c: c.op.create_codes(c.body),
               "Create redemption codes (shown this once; only their hashes are kept)", body=cs.CodesIn,
               returns=cs.CodesCreated),
    AdminRoute("DELETE", "/api/redemptions/{id}", lambda c: _done(c.op.delete_code(c.id())),
               "Delete a redemption code"),
    AdminRoute("POST", "/api/self/password", _password, "Change your own password (your other sessions end)",
               body=cs.PasswordChange, returns=s.UserOut, audience="account"),
    AdminRoute("GET", "/api/self/dashboard", lambda c: _dashboard(c, c.caller.user_id),
               "Your own usage and balance", returns=cs.DashboardOut, audience="user", query=_DASHBOARD_QUERY),
    AdminRoute("GET", "/api/self/keys", lambda c: c.op.own_keys(c.caller.user_id), "Your own client keys",
               returns=s.KeyOut, many=True, audience="user"),
    AdminRoute("POST", "/api/self/keys", lambda c: c.op.create_own_key(c.caller.user_id, c.body),
               "Issue yourself a client key (its value is shown once)", body=cs.SelfKeyIn, returns=s.KeyCreated,
               audience="account", conflicts=True),
    AdminRoute("PATCH", "/api/self/keys/{id}", lambda c: c.op.update_own_key(c.caller.user_id, c.id(), c.body),
               "Change one of your keys", body=cs.SelfKeyPatch, returns=s.KeyOut, audience="account"),
    AdminRoute("DELETE", "/api/self/keys/{id}", lambda c: c.op.revoke_own_key(c.caller.user_id, c.id()),
               "Revoke (disable) one of your keys", returns=s.KeyOut, audience="account"),
    AdminRoute("POST", "/api/self/redeem", lambda c: c.op.redeem(c.caller.user_id, c.body),
               "Redeem a code: your balance grows by its amount, once", body=cs.RedeemIn, returns=cs.RedeemOut,
               audience="user", conflicts=True, errors=(404,)),
    AdminRoute("GET", "/api/self/redemptions", lambda c: c.op.redeemed_by(c.caller.user_id),
               "The codes you redeemed", returns=cs.CodeOut, many=True, audience="user"),
)


async def _done(step: Awaitable[None]) -> None:
    await step
