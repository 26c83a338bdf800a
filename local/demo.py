"""`make demo`: start the local stack, drive it as Slack (then GitHub, Jira and Teams) would, print
what people read, stop.

Each scenario is a signed slash command (or a forged one) sent over HTTP to the relay on
127.0.0.1, which reads its secrets from moto server and cancels jobs in the Omni emulator.
"""

from __future__ import annotations

import json
import sys
import time

import urllib3

from local.cloud.stack import LocalStack, StackConfig
from tools.send import as_slack_shows, post_command, post_webhook
from tools.signers.slack import events_api, link_shared, message_shortcut, unfurl_click

TEAM, ALICE, INTERN, BOB, ERIN = "T0LOCAL01", "U0ALICE01", "U0INTERN1", "U0BOB0001", "U0ERIN001"
EMOJI = {
    ":white_check_mark:": "✅",
    ":information_source:": "ℹ️ ",
    ":hourglass_flowing_sand:": "⏳",
    ":vertical_traffic_light:": "🚦",
    ":cloud:": "☁️ ",
    ":warning:": "⚠️ ",
}


WEBHOOK_SCENES = (
    (
        "github",
        "GitHub: `/omni-cancel <job>` commented on issue acme/data-platform#42",
        "/github/repos/acme/data-platform/issues/42/comments",
    ),
    ("jira", "Jira: `/omni-cancel <job>` commented on DATA-7", "/jira/rest/api/3/issue/DATA-7/comment"),
    ("teams", "Microsoft Teams: `@Omni Cancel <job>` in a channel (the reply is the Teams message)", ""),
)


def comment_text(source: str, posted: dict) -> str:
    if source == "jira":
        paragraphs = posted.get("body", {}).get("content", [])
        return "\n".join(node.get("text", "") for p in paragraphs for node in p.get("content", []))
    return str(posted.get("body", ""))


def show(title: str, text: str, status: int, payload: dict) -> None:
    rendered = as_slack_shows(status, payload)
    for code, emoji in EMOJI.items():
        rendered = rendered.replace(code, emoji)
    print(f"\n── {title}" + (f"\n   /omni-cancel {text}" if text else ""))
    for line in rendered.splitlines():
        print(f"   │ {line}")


def unexpected(failed: bool, expected: str) -> int:
    """1, and a line saying what was expected, when a scene did not answer as it should; else 0."""
    if failed:
        print(f"   ✗ expected {expected}")
    return int(failed)


DEV_BOB_TOKEN = "omni-pat-bob"  # noqa: S105 (the local emulator's made-up personal access token)


def demo_config(bob_token: str = DEV_BOB_TOKEN) -> StackConfig:
    """The demo's stack; secrets from SLACK_SIGNING_SECRET, OMNI_API_KEY, <SOURCE>_WEBHOOK_SECRET or dev defaults."""
    config = StackConfig.from_env()
    # Any free ports: the demo runs beside `make local`.
    config.port = config.moto_port = config.omni_port = config.capture_port = config.slack_api_port = 0
    # The demo's allow-list, as a deploy would set it: Alice and Bob of team TEAM (Bob with his own token).
    config.params = {"SlackAllowedTeams": TEAM, "SlackAllowedUsers": f"{ALICE},{BOB}", **config.params}
    config.user_tokens = {f"{TEAM}:{BOB}": bob_token}  # Bob cancels with his own Omni token
    return config


def main(config: StackConfig | None = None) -> int:
    config = config or demo_config()
    signing_secret = config.slack_signing_secrets[0]
    started = time.monotonic()
    with LocalStack(config) as stack:
        omni = stack.omni
        assert omni is not None
        omni.add_key(config.user_tokens[f"{TEAM}:{BOB}"], user="bob", admin=False)
        print(
            f"Local stack up from template.yaml in {time.monotonic() - started:.1f}s: relay {stack.url} "
            f"({', '.join(stack.functions)} as built by sam build, each in its own processes), "
            f"Omni emulator {omni.base_url}, AWS on moto {stack.moto_url}; the functions' logs: {stack.log_path}"
        )

        key = config.omni_api_key
        queued = omni.create_job(key=key, pinned="QUEUED", prompt="Weekly active users by plan, last 12 weeks")
        executing = omni.create_job(
            key=key, pinned="EXECUTING", iteration_s=3, prompt="Join every order to every session since 2019"
        )
        delivering = omni.create_job(key=key, pinned="DELIVERING", prompt="Churn by cohort")
        finished = omni.create_job(key=key, pinned="COMPLETE", prompt="Revenue by region, Q3")
        someone_elses = omni.create_job(owner="carol", pinned="EXECUTING")
        unknown = "0b5f2a7e-1c3d-4e5f-8a9b-0c1d2e3f4a5b"
        url = stack.url
        failures = 0

        def run(title: str, text: str, expect: int = 200, **fields: object) -> None:
            nonlocal failures
            fields.setdefault("secret", signing_secret)
            status, payload = post_command(url, text, team_id=TEAM, **fields)
            show(title, text, status, payload)
            failures += unexpected(status != expect, f"HTTP {expect}")

        assert stack.capture is not None
        run("Asking for help", "help", user_id=ALICE)
        run("Looking at a job without cancelling it", f"status {executing}", user_id=ALICE)
        run("A queued job", queued, user_id=ALICE)
        asked = time.monotonic()
        run(
            "An executing job",
            stack.omni.job_url(executing) if stack.omni else executing,
            user_id=ALICE,
            response_url=stack.capture.url("/executing"),
        )
        stopped = stack.capture.wait_for("/executing", timeout=30)
        if stopped:
            show(
                f"… {time.monotonic() - asked:.0f} s later the worker, following the job, replaced it with",
                "",
                200,
                stopped[0],
            )
        else:
            failures += unexpected(True, "the worker's follow-through within 30 s")
        run("A job delivering its results", delivering, user_id=ALICE)
        run("A job that already finished", finished, user_id=ALICE)
        run("An unknown job id", unknown, user_id=ALICE)
        run("A user who is not on the allow-list", executing, user_id=INTERN)
        run("Bob, with his own Omni token, on a job he does not own", someone_elses, user_id=BOB)
        # Omni slow beyond Slack's deadline: answered at once, finished by the worker, posted back.
        slow = omni.create_job(key=config.omni_api_key, pinned="QUEUED")
        omni.set_faults(latency_s=4)
        sent = time.monotonic()
        run("Omni taking 4 s to answer (Slack allows 3)", slow, user_id=ALICE, response_url=stack.capture.url("/slow"))
        print(f"   (answered in {time.monotonic() - sent:.1f}s)")
        posted = stack.capture.wait_for("/slow", timeout=30)
        omni.set_faults()
        if posted:
            show("… and a few seconds later the worker replaced that message with", slow, 200, posted[0])
        else:
            failures += unexpected(True, "the worker's post-back within 30 s")
        run("A forged request (wrong signing secret)", executing, expect=401, user_id=ALICE, secret="not-the-secret")

        print("\n══ The same relay, from other tools (signed webhooks to /webhooks/<source>)")
        for source, where, comment_path in WEBHOOK_SCENES:
            job = omni.create_job(key=config.omni_api_key, pinned="QUEUED")
            status, reply = post_webhook(url, source, job)
            print(f"\n── {where}\n   HTTP {status} {json.dumps(reply)[:110]}…")
            if comment_path:
                found = stack.capture.wait_for(comment_path, timeout=5)
                shown = found[-1] if found else {}
                said = (comment_text(source, shown) or "(none)").replace("\n", "\n   │   ")
                print(f"   │ comment posted back: {said}")
            failures += unexpected(status != 200, "HTTP 200")
        status, reply = post_webhook(url, "github", omni.create_job(key=config.omni_api_key), secret="forged")
        print(f"\n── A forged GitHub delivery\n   HTTP {status} {json.dumps(reply)}")
        failures += unexpected(status != 401, "HTTP 401")
    print("Stopped the local stack.")
    failures += in_place(config)
    failures += owner_or_on_call(config)
    print(f"Stopped. {failures} scenario(s) answered unexpectedly." if failures else "Stopped.")
    return 1 if failures else 0


def in_place(config: StackConfig) -> int:
    """Cancel from where the job already is: the message shortcut on an alert, and a job link's unfurl."""
    print("\n══ In place (SlackAllowedTeams=T0LOCAL01, any member): the message shortcut and link unfurls")
    config.params = {**config.params, "SlackAllowedUsers": "*"}
    config.user_tokens = {}  # everyone on the org key
    secret, failures = config.slack_signing_secrets[0], 0
    with LocalStack(config) as stack:
        assert stack.omni is not None and stack.capture is not None and stack.slack_api is not None
        key, base = config.omni_api_key, stack.omni.base_url

        def send(path: str, request: tuple[dict[str, str], bytes]) -> int:
            return urllib3.request("POST", stack.url + path, headers=request[0], body=request[1], timeout=10).status

        runaway = stack.omni.create_job(
            key=key, pinned="EXECUTING", iteration_s=1, prompt="Join every order to every session"
        )
        waiting = stack.omni.create_job(key=key, pinned="QUEUED", prompt="Weekly active users by plan")
        alert = {
            "text": f"[Triggered] Omni AI jobs running over 2h: <{base}/v1/ai/jobs/{runaway}|runaway job>",
            "attachments": [{"title": "Queued behind it", "fields": [{"title": "job id", "value": waiting}]}],
        }
        print(
            f"\n── Alice runs ⋮ → “Cancel Omni job” on a monitor's alert\n   > {alert['text']}\n   >   job id {waiting}"
        )
        request = message_shortcut(
            alert, secret=secret, team_id=TEAM, user_id=ALICE, response_url=stack.capture.url("/shortcut")
        )
        status = send("/slack/interactions", request)
        answered = stack.capture.wait_for("/shortcut", timeout=5)
        show("… and reads, alone (ephemeral)", "", 200, answered[0] if answered else {})
        failures += unexpected(status != 200 or not answered, "one ephemeral answer through response_url")

        url, ts = f"{base}/v1/ai/jobs/{runaway}", "1700000500.000100"
        print(f"\n── Bob pastes {url} in #omni-oncall (Slack sends link_shared; the relay calls chat.unfurl)")
        status = send("/slack/events", events_api(link_shared([url], user_id=BOB, message_ts=ts), secret=secret))
        card = stack.slack_api.unfurled(f"C0LOCAL01/{ts}").get(url, {})
        show(
            "… and the channel sees the card (no prompt: the channel is not listed in SlackAllowedChannels)",
            "",
            200,
            card,
        )
        failures += unexpected(status != 200 or not card, "the link unfurled")
        press = unfurl_click(
            runaway, url, secret=secret, team_id=TEAM, user_id=ERIN, message_ts=ts,
            response_url=stack.capture.url("/card"),
        )  # fmt: skip
        status = send("/slack/interactions", press)
        told = stack.capture.wait_for("/card", timeout=5)
        show("Erin presses [Cancel job] on the card and confirms; she reads, alone", "", 200, told[0] if told else {})
        show("… and the card, for the channel", "", 200, stack.slack_api.unfurled(f"C0LOCAL01/{ts}").get(url, {}))
        failures += unexpected(status != 200 or not told, "Erin told how her cancel went")
        time.sleep(1.5)  # Omni finishes the job's current step
        check = unfurl_click(
            runaway, url, action_id="omni_check_here", secret=secret, team_id=TEAM, user_id=BOB, message_ts=ts,
            response_url=stack.capture.url("/check"),
        )  # fmt: skip
        status = send("/slack/interactions", check)
        card = stack.slack_api.unfurled(f"C0LOCAL01/{ts}").get(url, {})
        show("A moment later Bob presses [Check again]; the card, for the channel", "", 200, card)
        failures += unexpected("CANCELLED" not in json.dumps(card), "the card saying the job was cancelled")
    return failures


def owner_or_on_call(config: StackConfig) -> int:
    """The same org key, Omni's own rule kept: people cancel their own jobs, on-call cancels any."""
    print("\n══ Owner or on-call (WhoMayCancel=owner-or-on-call OnCall=S0ONCALL1): the org key, Omni's own rule")
    config.params = {**config.params, "WhoMayCancel": "owner-or-on-call", "OnCall": "S0ONCALL1"}
    config.params["SlackAllowedUsers"] = "*"
    config.user_tokens = {}  # everyone on the org key: the rule is the relay's to keep
    people = ((ALICE, "alice@acme.com", "u-alice"), (BOB, "bob@acme.com", "u-bob"), (ERIN, "erin@acme.com", "u-erin"))
    failures = 0
    with LocalStack(config) as stack:
        assert stack.omni is not None and stack.slack_api is not None
        for slack_id, email, omni_id in people:
            stack.slack_api.add_user(slack_id, email)  # what Slack's users.info says (users:read.email)
            stack.omni.add_user(omni_id, email, email.split("@")[0].title())  # Omni's SCIM users
        stack.slack_api.add_group("S0ONCALL1", [ERIN])  # the on-call user group
        mine = stack.omni.create_job(owner="u-alice", pinned="EXECUTING", prompt="Revenue by region, all time")
        for title, user, expect in (
            ("Bob, on Alice's job", BOB, "Only the job's owner"),
            ("Alice, on her own job", ALICE, "Cancel requested"),
            ("Erin, on call (Slack user group S0ONCALL1), on Alice's next job", ERIN, "Cancelled"),
        ):
            job = mine if user != ERIN else stack.omni.create_job(owner="u-alice", pinned="QUEUED")
            status, payload = post_command(
                stack.url, job, team_id=TEAM, user_id=user, secret=config.slack_signing_secrets[0]
            )
            show(title, job, status, payload)
            failures += unexpected(expect not in as_slack_shows(status, payload), f"a reply saying “{expect}”")
    return failures


if __name__ == "__main__":
    sys.exit(main())
