"""Collections and their legal basis, the jurisdiction rules, and valid consent."""

from __future__ import annotations

from datetime import UTC, datetime

from facelens.engine.state import POLICY_META, SYSTEM_ACTOR, EngineState
from facelens.errors import (
    ConsentRequiredError,
    InvalidArgumentError,
    NoLegalBasisError,
)
from facelens.privacy.policy import (
    CollectionPolicy,
    LegalBasis,
)
from facelens.types import Consent


class Policy(EngineState):
    """Legal basis, jurisdiction rules and consent."""

    def _note_policy_change(self) -> None:
        described = self.jurisdiction_policy.sha256 or "none"
        recorded = self.store.get_meta(POLICY_META)
        if recorded is None and described == "none":
            self.store.set_meta(POLICY_META, described)  # a new folder with no policy
        elif recorded != described:
            self.store.append_audit(
                SYSTEM_ACTOR,
                "policy change",
                str(self.settings.jurisdiction_policy_file or "no jurisdiction policy"),
                {
                    "sha256": self.jurisdiction_policy.sha256,
                    "consent_required_for": sorted(self.jurisdiction_policy.consent_required_for),
                    "search_forbidden_in": sorted(self.jurisdiction_policy.search_forbidden_in),
                },
            )
            self.store.set_meta(POLICY_META, described)

    def create_collection(self, name: str, policy: CollectionPolicy) -> None:
        """A collection and why it may be processed; checked against the jurisdiction rules."""
        if not name.strip():
            raise InvalidArgumentError("the collection name must not be empty")
        self.jurisdiction_policy.check_ingest(name, policy)
        self.store.create_collection(name.strip(), policy)

    def set_collection_policy(self, name: str, policy: CollectionPolicy) -> None:
        self.jurisdiction_policy.check_ingest(name, policy)
        self.store.set_collection_policy(name, policy)

    def policy_for_ingest(self, collection: str) -> CollectionPolicy:
        """The collection's policy, when adding to it is allowed; refuses otherwise."""
        if collection not in self.store.collection_names():
            raise NoLegalBasisError(
                f"there is no collection {collection!r}; create it first with its legal basis, "
                "jurisdictions, purpose and retention period (facelens collection create)"
            )
        policy = self.store.collection_policy(collection)
        if policy is None:
            raise NoLegalBasisError(
                f"collection {collection!r} declares no legal basis, jurisdictions, purpose or "
                "retention period; declare them (facelens collection set-policy) before adding "
                "to it"
            )
        self.jurisdiction_policy.check_ingest(collection, policy)
        return policy

    def check_bulk_ingest(self, collection: str) -> CollectionPolicy:
        """Refuses unless images may be added to ``collection`` in bulk: it must declare a
        legal basis that the jurisdiction rules accept, and not rest on consent (there, faces
        enter only by enrolment against a consent record)."""
        policy = self.policy_for_ingest(collection)
        if policy.basis == LegalBasis.CONSENT:
            raise ConsentRequiredError(
                f"collection {collection!r} rests on consent: faces enter it only by enrolling "
                "a person against their consent record (facelens person add --consent ID)"
            )
        return policy

    def valid_consent(self, consent_id: int | None, collection: str) -> Consent:
        if consent_id is None:
            raise ConsentRequiredError(
                f"collection {collection!r} rests on consent: name the person's consent record "
                "(--consent ID; facelens consent add records one)"
            )
        consent = self.store.consent(consent_id)
        if not consent.valid_at(datetime.now(UTC)):
            state = "withdrawn" if consent.withdrawn_at else "expired or not yet valid"
            raise ConsentRequiredError(f"consent record {consent_id} is {state}")
        if collection not in consent.scope:
            raise ConsentRequiredError(
                f"consent record {consent_id} covers {', '.join(consent.scope)}, not {collection!r}"
            )
        return consent
