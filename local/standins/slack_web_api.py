"""A stand-in for the Slack Web API methods the relay calls, on 127.0.0.1, answering as Slack
documents them (https://api.slack.com/methods/users.info, /usergroups.users.list, /chat.unfurl,
/users.lookupByEmail, /conversations.open, /chat.postMessage):

- `users.info?user=U…` -> {"ok": true, "user": {"id", "team_id", "name", "deleted", "profile": {"email", …}}};
  the email is present only when the token has users:read.email (Slack omits it otherwise);
- `usergroups.users.list?usergroup=S…` -> {"ok": true, "users": [...]};
- `apps.manifest.create` (manifest=<JSON>) -> {"ok": true, "app_id", "credentials": {"client_id",
  "client_secret", "verification_token", "signing_secret"}, "oauth_authorize_url"}, and
  `apps.manifest.update` (app_id, manifest) -> {"ok": true, "app_id", "permissions_updated"}, with an app
  configuration token (https://api.slack.com/methods/apps.manifest.create, /apps.manifest.update); a
  manifest without a name or with a non-https request URL is `invalid_manifest` with its `errors`;
- `chat.unfurl` (form fields, or a JSON body with a bearer token) with `channel` and `ts`, or
  `unfurl_id` and `source`, and `unfurls` (a JSON map of URL -> {"blocks": [...]}; a string in a
  form) -> {"ok": true}; needs links:write; errors missing_channel, missing_ts, missing_unfurls,
  invalid_unfurls_json, invalid_source, cannot_unfurl_url (a URL not on an unfurl domain). The cards
  it took are kept per message, the latest per URL, for the tests and the demo to read;
- `users.lookupByEmail?email=…` (users:read.email) -> {"ok": true, "user": {…}}, or "users_not_found";
- `conversations.open?users=U…` (im:write) -> {"ok": true, "channel": {"id": "D…"}} (with "no_op" and
  "already_open" once open), or "user_not_found";
- `chat.postMessage?channel=D…&text=…&blocks=[…]` (chat:write) -> {"ok": true, "channel", "ts", "message"},
  or "channel_not_found", "no_text", "invalid_blocks"; each message kept in `messages`;
- errors as HTTP 200 with {"ok": false, "error": "user_not_found" | "no_such_subteam" | "invalid_auth"
  | "not_authed" | "missing_scope", "needed", "provided"}; rate limits as HTTP 429 with Retry-After.
Tests and the demo add people and groups, take scopes away, or make it rate-limit or fail.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local.cloud.http_reply import LoopbackServer, send_reply

BOT_TOKEN = "xoxb-local-relay-bot-token"  # noqa: S105 (the stand-in's made-up token)
CONFIG_TOKEN = "xoxe.xoxp-1-local-app-configuration-token"  # noqa: S105 (likewise)


@dataclass
class SlackDirectory:
    token: str = BOT_TOKEN
    scopes: set[str] = field(
        default_factory=lambda: {
            "users:read",
            "users:read.email",
            "usergroups:read",
            "links:read",
            "links:write",
            "im:write",
            "chat:write",
        }
    )
    unfurl_domains: set[str] = field(default_factory=set)  # empty: any (the app manifest's unfurl_domains)
    unfurls: dict[str, dict[str, Any]] = field(default_factory=dict)  # "channel/ts" or unfurl_id -> URL -> card
    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> {"email", "name", "team_id"}
    groups: dict[str, list[str]] = field(default_factory=dict)
    ims: dict[str, str] = field(default_factory=dict)  # user id -> the bot's DM channel with them
    messages: list[dict[str, Any]] = field(default_factory=list)  # what chat.postMessage posted
    mode: str = "ok"  # ok | rate_limited | down
    config_token: str = CONFIG_TOKEN
    apps: dict[str, dict[str, Any]] = field(default_factory=dict)  # app id -> {"manifest", "signing_secret"}
    calls: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class SlackWebApi(LoopbackServer):
    thread_name = "slack-web-api"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.directory = SlackDirectory()
        directory = self.directory

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:  # noqa: N802
                self._answer(parse_qs(urlsplit(self.path).query))

            def do_POST(self) -> None:  # noqa: N802
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    try:
                        loaded = json.loads(data or "{}")
                    except ValueError:
                        loaded = None
                    if not isinstance(loaded, dict):
                        loaded = {"invalid_json": "1"}
                    self._answer({k: [v if isinstance(v, str) else json.dumps(v)] for k, v in loaded.items()})
                    return
                self._answer({**parse_qs(urlsplit(self.path).query), **parse_qs(data)})

            def _answer(self, query: dict[str, list[str]]) -> None:
                method = urlsplit(self.path).path.rsplit("/", 1)[-1]
                args = {k: v[0] for k, v in query.items()}
                with directory.lock:
                    directory.calls.append({"method": method, **args})
                    authorization = self.headers.get("Authorization", "")
                    if method.startswith("apps.manifest."):  # an app configuration token, not the bot's
                        token = authorization.removeprefix("Bearer ") or args.get("token", "")
                        status, body, headers = 200, _manifest(directory, method, args, token), dict[str, str]()
                    else:
                        status, body, headers = _respond(directory, method, args, authorization)
                send_reply(self, status, {"Content-Type": "application/json", **headers}, json.dumps(body).encode())

        self._server = ThreadingHTTPServer((host, port), _Handler)
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/api"

    def add_user(self, user_id: str, email: str, name: str = "", team_id: str = "T0LOCAL01") -> None:
        with self.directory.lock:
            self.directory.users[user_id] = {"email": email, "name": name or email.split("@")[0], "team_id": team_id}

    def add_group(self, group_id: str, members: list[str]) -> None:
        with self.directory.lock:
            self.directory.groups[group_id] = list(members)

    def unfurled(self, where: str) -> dict[str, Any]:
        """The latest card per URL that chat.unfurl attached at `where` ("<channel>/<ts>" or an unfurl_id)."""
        with self.directory.lock:
            return json.loads(json.dumps(self.directory.unfurls.get(where, {})))

    def messages_to(self, user_id: str) -> list[dict[str, Any]]:
        """What was posted in the bot's DM with `user_id`."""
        with self.directory.lock:
            channel = self.directory.ims.get(user_id)
            return [m for m in self.directory.messages if channel and m["channel"] == channel]

    def calls(self, method: str) -> list[dict[str, str]]:
        with self.directory.lock:
            return [c for c in self.directory.calls if c["method"] == method]


Answer = tuple[int, dict[str, Any], dict[str, str]]


def _respond(directory: SlackDirectory, method: str, args: dict[str, str], authorization: str) -> Answer:
    if directory.mode == "down":
        return 503, {"ok": False, "error": "service_unavailable"}, {}
    if directory.mode == "rate_limited":
        return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "30"}
    if "invalid_json" in args:
        return 200, {"ok": False, "error": "invalid_json"}, {}
    # The bearer header, or (as Slack also takes it) a `token` argument.
    token = authorization[7:] if authorization.startswith("Bearer ") else args.get("token", "")
    if not token:
        return 200, {"ok": False, "error": "not_authed"}, {}
    if token != directory.token:
        return 200, {"ok": False, "error": "invalid_auth"}, {}
    answer = METHODS.get(method)
    return 200, answer(directory, args) if answer else {"ok": False, "error": "unknown_method"}, {}


def _users_info(directory: SlackDirectory, args: dict[str, str]) -> dict[str, Any]:
    if "users:read" not in directory.scopes:
        return _missing_scope("users:read", directory)
    person = directory.users.get(args.get("user", ""))
    if person is None:
        return {"ok": False, "error": "user_not_found"}
    profile: dict[str, Any] = {"real_name": person["name"], "display_name": person["name"]}
    if "users:read.email" in directory.scopes:  # Slack leaves the email out without this scope
        profile["email"] = person["email"]
    user = {"id": args["user"], "team_id": person["team_id"], "name": person["name"], "deleted": False}
    return {"ok": True, "user": {**user, "profile": profile}}


def _usergroup_members(directory: SlackDirectory, args: dict[str, str]) -> dict[str, Any]:
    if "usergroups:read" not in directory.scopes:
        return _missing_scope("usergroups:read", directory)
    members = directory.groups.get(args.get("usergroup", ""))
    if members is None:
        return {"ok": False, "error": "no_such_subteam"}
    return {"ok": True, "users": members}


def _unfurl(directory: SlackDirectory, args: dict[str, str]) -> dict[str, Any]:
    if "links:write" not in directory.scopes:
        return _missing_scope("links:write", directory)
    if args.get("unfurl_id") or args.get("source"):
        if args.get("source") not in ("composer", "conversations_history"):
            return {"ok": False, "error": "invalid_source"}
        where = args.get("unfurl_id", "")
    elif not args.get("channel"):
        return {"ok": False, "error": "missing_channel"}
    elif not args.get("ts"):
        return {"ok": False, "error": "missing_ts"}
    else:
        where = f"{args['channel']}/{args['ts']}"
    if not args.get("unfurls"):
        return {"ok": False, "error": "missing_unfurls"}
    try:
        unfurls = json.loads(args["unfurls"])
    except ValueError:
        return {"ok": False, "error": "invalid_unfurls_json"}
    if not isinstance(unfurls, dict) or not all(isinstance(v, dict) for v in unfurls.values()):
        return {"ok": False, "error": "invalid_unfurls_json"}
    for url in unfurls:
        host = urlsplit(url).hostname or ""
        if directory.unfurl_domains and not any(host == d or host.endswith("." + d) for d in directory.unfurl_domains):
            return {"ok": False, "error": "cannot_unfurl_url"}
    directory.unfurls.setdefault(where, {}).update(unfurls)
    return {"ok": True}


def _user(directory: SlackDirectory, user_id: str) -> dict[str, Any]:
    person = directory.users[user_id]
    profile = {"real_name": person["name"], "display_name": person["name"], "email": person["email"]}
    user = {"id": user_id, "team_id": person["team_id"], "name": person["name"], "deleted": False}
    return {"ok": True, "user": {**user, "profile": profile}}


def _lookup_by_email(directory: SlackDirectory, args: dict[str, str]) -> dict[str, Any]:
    if "users:read.email" not in directory.scopes:
        return _missing_scope("users:read.email", directory)
    wanted = args.get("email", "").strip().lower()
    found = next((uid for uid, p in directory.users.items() if p["email"].lower() == wanted), None)
    return {"ok": False, "error": "users_not_found"} if found is None else _user(directory, found)


def _open_im(directory: SlackDirectory, args: dict[str, str]) -> dict[str, Any]:
    if "im:write" not in directory.scopes:
        return _missing_scope("im:write", directory)
    user_id = args.get("users", "")
    if user_id not in directory.users:
        return {"ok": False, "error": "user_not_found"}
    if user_id in directory.ims:
        return {"ok": True, "no_op": True, "already_open": True, "channel": {"id": directory.ims[user_id]}}
    directory.ims[user_id] = f"D{len(directory.ims) + 1:08d}"
    return {"ok": True, "channel": {"id": directory.ims[user_id]}}


def _post_message(directory: SlackDirectory, args: dict[str, str]) -> dict[str, Any]:
    if "chat:write" not in directory.scopes:
        return _missing_scope("chat:write", directory)
    channel = args.get("channel", "")
    if channel not in directory.ims.values():
        return {"ok": False, "error": "channel_not_found"}
    try:
        blocks = json.loads(args["blocks"]) if args.get("blocks") else []
    except ValueError:
        return {"ok": False, "error": "invalid_blocks"}
    if not isinstance(blocks, list):
        return {"ok": False, "error": "invalid_blocks"}
    if not args.get("text") and not blocks:
        return {"ok": False, "error": "no_text"}
    ts = f"{1700000000 + len(directory.messages)}.000100"
    message = {"type": "message", "channel": channel, "text": args.get("text", ""), "blocks": blocks, "ts": ts}
    directory.messages.append(message)
    return {"ok": True, "channel": channel, "ts": ts, "message": {**message, "bot_id": "B0RELAY01"}}


def _missing_scope(needed: str, directory: SlackDirectory) -> dict[str, Any]:
    return {"ok": False, "error": "missing_scope", "needed": needed, "provided": ",".join(sorted(directory.scopes))}


def _manifest(directory: SlackDirectory, method: str, args: dict[str, str], token: str) -> dict[str, Any]:
    if not token:
        return {"ok": False, "error": "not_authed"}
    if token != directory.config_token:
        return {"ok": False, "error": "invalid_auth"}
    try:
        manifest = json.loads(args.get("manifest", ""))
    except ValueError:
        return {"ok": False, "error": "invalid_manifest", "errors": [{"message": "not JSON", "pointer": "/"}]}
    errors = _manifest_errors(manifest)
    if errors:
        return {"ok": False, "error": "invalid_manifest", "errors": errors}
    if method == "apps.manifest.create":
        number = len(directory.apps) + 1
        app_id = f"A0LOCAL{number:04d}"
        credentials = {
            "client_id": f"1000000000.{number}",
            "client_secret": f"local-client-secret-{number}",
            "verification_token": f"local-verification-{number}",
            "signing_secret": f"local-app-signing-secret-{number:04d}-0123456789abcdef",
        }
        directory.apps[app_id] = {"manifest": manifest, "signing_secret": credentials["signing_secret"]}
        scopes = ",".join(manifest.get("oauth_config", {}).get("scopes", {}).get("bot", []))
        authorize = f"https://slack.com/oauth/v2/authorize?client_id={credentials['client_id']}&scope={scopes}"
        return {"ok": True, "app_id": app_id, "credentials": credentials, "oauth_authorize_url": authorize}
    if method == "apps.manifest.update":
        app = directory.apps.get(args.get("app_id", ""))
        if app is None:
            return {"ok": False, "error": "app_not_found"}
        before = app["manifest"].get("oauth_config", {}).get("scopes")
        app["manifest"] = manifest
        changed = before != manifest.get("oauth_config", {}).get("scopes")
        return {"ok": True, "app_id": args["app_id"], "permissions_updated": changed}
    return {"ok": False, "error": "unknown_method"}


def _manifest_errors(manifest: Any) -> list[dict[str, str]]:
    if not isinstance(manifest, dict):
        return [{"message": "must be an object", "pointer": "/"}]
    errors = []
    if not manifest.get("display_information", {}).get("name"):
        errors.append({"message": "Name is required", "pointer": "/display_information/name"})
    features = manifest.get("features", {})
    for i, command in enumerate(features.get("slash_commands", [])):
        if not str(command.get("url", "")).startswith("https://"):
            errors.append({"message": "Must be a valid https URL", "pointer": f"/features/slash_commands/{i}/url"})
    interactivity = manifest.get("settings", {}).get("interactivity", {})
    if interactivity.get("is_enabled") and not str(interactivity.get("request_url", "")).startswith("https://"):
        errors.append({"message": "Interactivity requires a Request URL", "pointer": "/settings/interactivity"})
    events = manifest.get("settings", {}).get("event_subscriptions")
    if events is not None and not str(events.get("request_url", "")).startswith("https://"):
        errors.append({"message": "Must be a valid https URL", "pointer": "/settings/event_subscriptions/request_url"})
    return errors


METHODS = {
    "users.info": _users_info,
    "usergroups.users.list": _usergroup_members,
    "chat.unfurl": _unfurl,
    "users.lookupByEmail": _lookup_by_email,
    "conversations.open": _open_im,
    "chat.postMessage": _post_message,
}
