"""The transparency report: what the service did since a date, in counts.

Searches by purpose (accounts' searches in the search log, the others' in the audit log),
access and erasure requests by outcome (the subject requests), retention deletions and
refusals by rule (the audit log). Nothing in it identifies
a person.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from facelens.store import MetadataStore


@dataclass(slots=True)
class TransparencyReport:
    since: datetime
    until: datetime
    searches_by_purpose: dict[str, int] = field(default_factory=dict)
    searches: int = 0
    access_requests: dict[str, int] = field(default_factory=dict)  # by outcome
    erasure_requests: dict[str, int] = field(default_factory=dict)  # by outcome
    faces_erased_on_request: int = 0
    consent_withdrawals: int = 0
    retention_runs: int = 0
    retention_images_deleted: int = 0
    retention_faces_deleted: int = 0
    refusals_by_rule: dict[str, int] = field(default_factory=dict)


def transparency_report(store: MetadataStore, since: datetime) -> TransparencyReport:
    since = since if since.tzinfo else since.replace(tzinfo=UTC)
    report = TransparencyReport(since=since, until=datetime.now(UTC))
    searches: Counter[str] = Counter(store.searches_by_purpose(since))
    access: Counter[str] = Counter()
    erasure: Counter[str] = Counter()
    for request in store.subject_requests(since):
        if request.kind == "access":
            access[request.status] += 1
        else:
            erasure[request.status] += 1
            report.faces_erased_on_request += request.faces_erased
    report.access_requests = dict(sorted(access.items()))
    report.erasure_requests = dict(sorted(erasure.items()))
    refusals: Counter[str] = Counter()
    cli_searches: Counter[str] = Counter()
    naive_since = since.astimezone(UTC).replace(tzinfo=None)
    for entry in store.audit_entries():
        at = entry.at.astimezone(UTC).replace(tzinfo=None) if entry.at.tzinfo else entry.at
        if at < naive_since:
            continue
        # Searches without an account (command line, Python) are only in the audit log; an
        # account's are in the search log too (``search_id``), counted from there.
        if entry.action == "cli search" or (
            entry.action == "search" and entry.details.get("search_id") is None
        ):
            purpose = str(entry.details.get("purpose", ""))
            cli_searches[purpose] += 1
        elif entry.action == "retention":
            report.retention_runs += 1
            report.retention_images_deleted += int(entry.details.get("images_deleted", 0))
            report.retention_faces_deleted += int(entry.details.get("faces_deleted", 0))
        elif entry.action == "consent withdraw":
            report.consent_withdrawals += 1
        rule = entry.details.get("refused")
        if rule:
            refusals[str(rule)] += 1
        for listed_rule, count in dict(entry.details.get("refusals") or {}).items():
            refusals[str(listed_rule)] += int(count)  # URLs of a manifest refused by rule
    report.refusals_by_rule = dict(sorted(refusals.items()))
    searches.update(cli_searches)
    report.searches_by_purpose = dict(sorted(searches.items()))
    report.searches = sum(report.searches_by_purpose.values())
    return report
