"""The one command grammar, as a property over every surface: a generated text cancels exactly when
the grammar says it does, `status` in any of its spellings never calls Omni's cancel, and the job
cancelled is the one the command named. Texts are built from parts whose meaning is known by
construction (the oracle), then sent through each source's real handler with a fake Omni."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from omni_relay.domain.grammar import Verb, parse_args, parse_texts
from tests.conftest import in_use
from tests.fakes import FakeOmni
from tests.unit.conftest import NOW, SIGNING_SECRET
from tests.unit.test_relay_handler import invoke
from tests.unit.test_webhooks import build, event, invoke_on
from tools.signers.events import slack_event

WORD = "/omni-cancel"
HOST = "acme.omniapp.co"
TEXT_SOURCES = ("github", "jira", "zendesk", "pagerduty", "linear", "shared")

jobs = st.uuids(version=4).map(str)
# Indentation of up to three columns (zero-width characters take none); a tab or four is a code block.
spaces = st.sampled_from(["", " ", "  ", "   ", "\u00a0", "\u2003", "\u3000", " \u200b", "\u200b\u200b  "])
separators = st.sampled_from([" ", "\t", "\u00a0", ": ", ", ", ":\t", "\u2003"])
# Noise never starts a line with "/" and holds no ">" or backticks: it can neither command nor quote.
# Nor "<" or "{", which could open markup whose contents are never read.
noise = st.text(st.characters(blacklist_characters="/>`~<{\r\n"), max_size=40)


def cases(word: str) -> st.SearchStrategy[str]:
    return st.sampled_from([word, word.upper(), word.title()])


@dataclass(frozen=True)
class Case:
    text: str
    verb: Verb | None  # what the text asks; None: nothing
    job: str = ""


@st.composite
def job_tokens(draw: st.DrawFn, job: str) -> str:
    form = draw(st.sampled_from(["uuid", "upper", "url", "wrapped", "slack-link"]))
    url = f"https://{HOST}/api/v1/ai/jobs/{job}"
    return {
        "uuid": job,
        "upper": job.upper(),
        "url": url,
        "wrapped": f"`{job}`",
        "slack-link": f"<{url}|the job>",
    }[form]


@st.composite
def commands(draw: st.DrawFn) -> Case:
    """A whole text: noise, decoys that mention the command or a job, and maybe one real command line."""
    lines = [draw(noise) for _ in range(draw(st.integers(0, 2)))]
    decoy = draw(jobs)
    kinds = ["mid-line", "glued", "quoted", "fenced", "indented", "html", "wiki", "bare-job"]
    for kind in draw(st.lists(st.sampled_from(kinds), max_size=3)):
        lines += {
            "mid-line": [f"do not {WORD} {decoy} please"],
            "glued": [f"{WORD}-relay {decoy}", f"{WORD}ed {decoy}"],
            "quoted": [f"> {WORD} {decoy}", ">", f"> {decoy}"],
            "fenced": ["````", "```", f"{WORD} {decoy}", "```", "````"],
            "indented": ["", f"    {WORD} {decoy}", f"\t{WORD} {decoy}"],
            "html": ["<!--", f"{WORD} {decoy}", "-->", f"<blockquote>{WORD} {decoy}</blockquote>"],
            "wiki": ["{quote}", f"{WORD} {decoy}", "{quote}", "{code:bash}", f"{WORD} {decoy}", "{code}"],
            "bare-job": [f"job {decoy} is running"],
        }[kind]
    case = Case("\n".join(lines), None)
    if draw(st.booleans()):
        job = draw(jobs)
        verb = draw(st.sampled_from([None, "status", "Status", "STATUS", "cancel", "help"]))
        said = draw(spaces) + draw(cases(WORD)) + draw(separators)
        if verb:
            said += verb + draw(separators)
        said += draw(job_tokens(job)) + draw(st.sampled_from(["", " because it scans 4 TB", f" not {decoy}"]))
        asked = Verb.CANCEL if verb in (None, "cancel") else Verb.HELP if verb == "help" else Verb.STATUS
        # A blank line first: a line right after a quote continues the quote (Markdown's lazy continuation).
        case = Case("\n".join([*lines, "", said, draw(noise)]), asked, job)
    return case


@given(commands())
def test_the_grammar_reads_what_the_text_was_built_to_ask(case: Case):
    found = parse_texts([case.text], WORD, HOST)
    if case.verb is None:
        assert found is None
    else:
        assert found is not None and found.verb is case.verb and found.job_id == case.job


@given(st.sampled_from(TEXT_SOURCES), commands())
def test_every_source_cancels_exactly_the_named_job_when_the_grammar_says_so(source: str, case: Case):
    omni = FakeOmni()
    runtime, _, _ = build(omni)
    body_text = case.text + f"\n{uuid.uuid4().hex}"  # a fresh signed body each time: no de-duplication
    [(status, reply)] = invoke_on(runtime, event(source, text=body_text))
    cancelled = [call[1] for call in omni.cancels]
    if case.verb is Verb.CANCEL:
        assert cancelled == [case.job] and reply.get("jobId") == case.job, reply
    else:
        assert cancelled == [], reply  # status, help, or nothing asked: Omni's cancel is never called
        if case.verb is Verb.STATUS:
            assert reply.get("outcome") == "status" and reply.get("jobId") == case.job


@st.composite
def slack_texts(draw: st.DrawFn) -> tuple[str, Verb, str]:
    job = draw(jobs)
    verb = draw(st.sampled_from([None, "status", "Status", "STATUS", "cancel"]))
    text = (verb + draw(separators) if verb else "") + draw(job_tokens(job)) + draw(st.sampled_from(["", " now"]))
    return text, Verb.CANCEL if verb in (None, "cancel") else Verb.STATUS, job


@given(slack_texts())
def test_the_slack_command_follows_the_same_grammar(case: tuple[str, Verb, str]):
    text, verb, job = case
    assert parse_args(text, HOST).verb is verb and parse_args(text, HOST).job_id == job
    omni = FakeOmni()
    runtime, _, _ = build(omni, SLACK_ALLOWED_TEAMS="*")
    runtime.authorized._secrets.values["slack"] = {"signing_secrets": [SIGNING_SECRET]}
    with in_use(runtime):
        status, _ = invoke(slack_event("/slack/commands", text, secret=SIGNING_SECRET, timestamp=NOW))
    assert status == 200
    assert [call[1] for call in omni.cancels] == ([job] if verb is Verb.CANCEL else [])
