"""Finding an Omni AI job id in what a person typed: a bare UUID or an Omni URL that holds one."""

from __future__ import annotations

import re
import uuid

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# In a URL such as https://acme.omniapp.co/api/v1/ai/jobs/<id>/cancel the id follows "/jobs/".
_JOB_PATH = re.compile(rf"/jobs/({_UUID})(?![0-9a-fA-F-])")
_ANY_UUID = re.compile(rf"(?<![0-9a-fA-F-])({_UUID})(?![0-9a-fA-F-])")
_WORD = re.compile(r"\S+")


def is_job_id(value: str) -> bool:
    """True for a canonical UUID (Omni rejects anything else with 400)."""
    if not isinstance(value, str) or len(value) != 36:
        return False
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def find_job_id(text: str) -> str | None:
    """The first job the text names, lower-cased: the first word holding a UUID decides (so in
    "<A> (spawned by https://…/jobs/<B>)" it is A); inside a URL, the id after /jobs/ wins over
    other UUIDs in the same URL. Linear in the length of the text."""
    for word in _WORD.finditer(text or ""):
        if found := _ANY_UUID.search(word.group()):
            return (_JOB_PATH.search(word.group()) or found).group(1).lower()
    return None
