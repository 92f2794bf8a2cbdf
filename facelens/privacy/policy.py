"""The lawful-processing rules: each collection's legal basis, the jurisdiction policy file, and
the errors that refuse what they forbid.

Every refusal is a ``RefusedError`` naming the ``rule`` that refused, so refusals can be logged
and counted by rule (``facelens report transparency``).
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache
from pathlib import Path

import pycountry

from facelens.errors import InvalidArgumentError, JurisdictionRefusedError, PurposeRequiredError

#: Biometric identifiers kept on consent are destroyed at the latest this long after the
#: subject's last interaction (Illinois BIPA, 740 ILCS 14/15(a): "within 3 years").
CONSENT_MAX_IDLE = timedelta(days=3 * 365)

#: Codes accepted beside ISO 3166: the EU (exceptionally reserved in ISO 3166-1) is where the
#: GDPR applies, so collections name it as a whole.
SPECIAL_JURISDICTIONS = frozenset({"EU"})

#: Longest retention period a collection may declare: 100 years outlasts any archive's
#: schedule, and keeps ``now - retention`` (and every date sum) far inside the calendar, where
#: 1,000,000 days overflowed and stopped every collection's retention.
MAX_RETENTION_DAYS = 36_525

#: Dates accepted from users (consent, report periods): far enough from year 1 and year 9999
#: that time-zone shifts and retention arithmetic cannot overflow.
EARLIEST_DATE = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_DATE = datetime(9000, 1, 1, tzinfo=UTC)


@cache
def _iso_3166_codes() -> frozenset[str]:
    """Countries (ISO 3166-1 alpha-2) and their subdivisions (ISO 3166-2), from pycountry."""
    countries = {str(country.alpha_2) for country in pycountry.countries}
    return frozenset(countries | {str(sub.code) for sub in pycountry.subdivisions})


def is_jurisdiction(code: str) -> bool:
    """An ISO 3166-1 alpha-2 country, an ISO 3166-2 subdivision (US-IL), or a special code."""
    return code in SPECIAL_JURISDICTIONS or code in _iso_3166_codes()


def check_date(value: datetime, what: str) -> datetime:
    """``value`` (UTC when it has no zone) when it lies within the dates facelens accepts."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    try:
        within = EARLIEST_DATE <= aware <= LATEST_DATE  # comparing converts to UTC: may overflow
    except OverflowError:
        within = False
    if not within:
        raise InvalidArgumentError(
            f"{what} {value.isoformat()} is outside the dates accepted "
            f"({EARLIEST_DATE.date()} to {LATEST_DATE.date()})"
        )
    return aware


def check_consent_dates(given_at: datetime, expires_at: datetime | None) -> None:
    """A consent's dates must be real dates, and it cannot lapse before it was given."""
    given = check_date(given_at, "given_at")
    if expires_at is not None and check_date(expires_at, "expires_at") <= given:
        raise InvalidArgumentError(
            f"the consent expires ({expires_at.isoformat()}) before it was given "
            f"({given_at.isoformat()}); check the dates"
        )


class LegalBasis(StrEnum):
    """GDPR Article 6 / Law Enforcement Directive bases a collection can rest on."""

    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal-obligation"
    PUBLIC_TASK = "public-task"
    LAW_ENFORCEMENT = "law-enforcement"
    OTHER = "other"


#: Shortest purpose a search may give (a word, not "x").
MIN_PURPOSE_CHARS = 3


def check_search_purpose(
    purpose: str | None, case_ref: str | None, names: tuple[str, str] = ("purpose", "case_ref")
) -> tuple[str, str]:
    """The purpose and case reference of a search, stripped; refuses a search without them.
    ``names`` are what the caller calls them (``--purpose``, a form field), for the message."""
    why, case = (purpose or "").strip(), (case_ref or "").strip()
    if len(why) < MIN_PURPOSE_CHARS or not case:
        raise PurposeRequiredError(
            f"say why you search: {names[0]} (at least {MIN_PURPOSE_CHARS} characters) and "
            f"{names[1]} (both are logged); a search without them is refused"
        )
    return why, case


@dataclass(frozen=True, slots=True)
class CollectionPolicy:
    """Why a collection may be processed: its legal basis, whom its data concerns, what for,
    and for how long it may be kept."""

    basis: LegalBasis
    jurisdictions: list[str]
    purpose: str
    retention_days: int
    basis_text: str | None = None
    #: Seal the locations (file paths often name the person) of the collection's images.
    seal_locations: bool = False

    def __post_init__(self) -> None:
        problems = []
        if self.basis == LegalBasis.OTHER and not (self.basis_text or "").strip():
            problems.append("the basis 'other' needs a text saying what the basis is")
        if not self.jurisdictions:
            problems.append("name the jurisdictions the data concerns (for example EU, US-IL)")
        bad = [j for j in self.jurisdictions if not is_jurisdiction(j)]
        if bad:
            problems.append(
                f"jurisdictions are ISO 3166 codes such as GB, US-IL or EU, not {', '.join(bad)}"
            )
        if len(self.purpose.strip()) < 3:
            problems.append("state the purpose of the collection")
        if self.retention_days < 1:
            problems.append("the retention period is at least 1 day")
        if self.retention_days > MAX_RETENTION_DAYS:
            problems.append(
                f"the retention period is at most {MAX_RETENTION_DAYS} days (100 years), "
                f"not {self.retention_days}"
            )
        if problems:
            raise InvalidArgumentError("; ".join(problems))

    @classmethod
    def parse(
        cls,
        basis: str,
        jurisdictions: list[str] | str,
        purpose: str,
        retention_days: int,
        basis_text: str | None = None,
        seal_locations: bool = False,
    ) -> CollectionPolicy:
        """From user input: ``jurisdictions`` as a list or a comma-separated string."""
        try:
            legal_basis = LegalBasis(basis)
        except ValueError:
            raise InvalidArgumentError(
                f"unknown legal basis {basis!r}; one of {', '.join(b.value for b in LegalBasis)}"
            ) from None
        if isinstance(jurisdictions, str):
            jurisdictions = jurisdictions.split(",")
        codes = sorted({j.strip().upper() for j in jurisdictions if j.strip()})
        return cls(legal_basis, codes, purpose.strip(), retention_days, basis_text, seal_locations)

    def retention_cutoff(self, now: datetime) -> datetime:
        """Data ingested before this is past its retention period."""
        return now - timedelta(days=self.retention_days)


@dataclass(frozen=True, slots=True)
class JurisdictionPolicy:
    """Rules by jurisdiction, from the policy file (``jurisdiction_policy_file``)::

    # data concerning these may be ingested only into collections whose basis is consent
    consent_required_for = ["US-IL"]
    # accounts in these jurisdictions may not search (e.g. an order to stop the service)
    search_forbidden_in = ["CA"]
    """

    consent_required_for: frozenset[str] = field(default_factory=frozenset)
    search_forbidden_in: frozenset[str] = field(default_factory=frozenset)
    sha256: str = ""  # of the file, so that a change of policy is noticed and logged

    @classmethod
    def load(cls, path: Path | None) -> JurisdictionPolicy:
        if path is None:
            return cls()
        try:
            raw = path.read_bytes()
            data = tomllib.loads(raw.decode())
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise InvalidArgumentError(
                f"the jurisdiction policy file {path} cannot be read: {exc}"
            ) from exc
        known = {"consent_required_for", "search_forbidden_in"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidArgumentError(
                f"{path}: unknown keys {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        lists = {}
        for key in known:
            value = data.get(key, [])
            if not isinstance(value, list) or not all(
                isinstance(v, str) and is_jurisdiction(v.upper()) for v in value
            ):
                raise InvalidArgumentError(
                    f'{path}: {key} must be a list of jurisdiction codes such as ["US-IL"]'
                )
            lists[key] = frozenset(v.upper() for v in value)
        return cls(
            consent_required_for=lists["consent_required_for"],
            search_forbidden_in=lists["search_forbidden_in"],
            sha256=hashlib.sha256(raw).hexdigest(),
        )

    def check_ingest(self, collection: str, policy: CollectionPolicy) -> None:
        if policy.basis == LegalBasis.CONSENT:
            return
        barred = sorted(set(policy.jurisdictions) & self.consent_required_for)
        if barred:
            raise JurisdictionRefusedError(
                f"collection {collection!r} holds data concerning {', '.join(barred)}, where "
                f"the policy allows biometric data only with consent, but its basis is "
                f"{policy.basis.value}; use a collection whose basis is consent",
                rule="jurisdiction-consent",
            )

    def check_search(self, account_jurisdiction: str | None) -> None:
        if account_jurisdiction and account_jurisdiction.upper() in self.search_forbidden_in:
            raise JurisdictionRefusedError(
                f"accounts in {account_jurisdiction} may not search: the jurisdiction policy "
                "forbids the service there",
                rule="jurisdiction-search",
            )


def check_jurisdiction_code(code: str | None) -> str | None:
    if code is None or not code.strip():
        return None
    upper = code.strip().upper()
    if not is_jurisdiction(upper):
        raise InvalidArgumentError(f"{code!r} is not a jurisdiction code such as GB or US-IL")
    return upper
