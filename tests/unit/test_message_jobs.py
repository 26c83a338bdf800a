"""Finding the Omni jobs a Slack message names, in the shapes monitoring tools and people post:
text with Slack's <url|label> links, legacy attachments with fields, Block Kit sections and rich_text."""

from __future__ import annotations

from omni_relay.domain.message_jobs import MAX_TEXTS, jobs_in_message

HOST = "acme.omniapp.co"
J1 = "3f0e6a52-8c1b-4d7e-9a2f-5b6c7d8e9f01"
J2 = "123e4567-e89b-12d3-a456-426614174000"
J3 = "0b5f2a7e-1c3d-4e5f-8a9b-0c1d2e3f4a5b"


def test_text_with_slack_links_and_bare_ids_in_reading_order():
    # Given a person's message: a link with a label (Slack's mrkdwn form), then a bare id in a sentence
    message = {"text": f"runaway: <https://{HOST}/chat/abc/jobs/{J1}|this job> and also {J2}."}
    # Then both jobs are found, in the order a reader meets them
    assert jobs_in_message(message, HOST) == [J1, J2]


def test_a_datadog_style_legacy_attachment_with_fields():
    message = {
        "text": "",
        "attachments": [
            {
                "fallback": "Triggered: Omni job running for 2h",
                "title": "[Triggered] Omni AI job running for over 2 hours",
                "title_link": "https://app.datadoghq.com/monitors/123",
                "text": "Monitor fired for job_id:" + J1,
                "fields": [{"title": "job", "value": f"`{J2}`", "short": True}, {"title": "env", "value": "prod"}],
            }
        ],
    }
    assert jobs_in_message(message, HOST) == [J1, J2]


def test_block_kit_sections_fields_context_and_rich_text_links():
    message = {
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Omni job alert"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*Job* jobId={J1}"}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*Id*\n{J2}"}]},
            {
                "type": "rich_text",
                "elements": [
                    {
                        "type": "rich_text_section",
                        "elements": [
                            {"type": "text", "text": "see "},
                            {"type": "link", "url": f"https://{HOST}/api/v1/ai/jobs/{J3}", "text": "the job"},
                        ],
                    }
                ],
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"again {J1}"}]},
        ]
    }
    assert jobs_in_message(message, HOST) == [J1, J2, J3]


def test_links_to_other_hosts_and_non_job_uuids_in_their_urls_are_not_jobs():
    message = {
        "text": (
            f"<https://evil.example/api/v1/ai/jobs/{J1}|job> https://grafana.example/d/x?var-job={J2} "
            f"https://{HOST}/dashboards/{J3}"
        )
    }
    assert jobs_in_message(message, HOST) == []


def test_uppercase_ids_are_one_job_and_odd_shapes_are_ignored():
    message = {"text": f"{J1.upper()} {J1}", "attachments": "not a list", "blocks": [None, 3, {"text": 5}]}
    assert jobs_in_message(message, HOST) == [J1]


def test_a_huge_message_is_read_only_up_to_its_bound():
    message = {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "nothing"}}] * MAX_TEXTS}
    message["blocks"] = [*message["blocks"], {"type": "section", "text": {"type": "mrkdwn", "text": J1}}]
    assert jobs_in_message(message, HOST) == []


def test_what_a_reader_never_sees_names_no_job():
    from omni_relay.domain.message_jobs import jobs_in_message

    hidden = "123e4567-e89b-42d3-a456-426614174000"
    message = {
        "text": "Deploy finished",
        "attachments": [
            {"fallback": f"job {hidden}", "actions": [{"type": "button", "text": "Open", "value": hidden}]}
        ],
        "blocks": [{"type": "actions", "elements": [{"type": "button", "action_id": "x", "value": hidden}]}],
    }
    assert jobs_in_message(message, "acme.omniapp.co") == []
