"""The store contract, privacy area: consent records, subject requests, erasure with the
suppression list, and retention, run against every registered backend."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from facelens.errors import InvalidArgumentError, NotFoundError
from facelens.store import MetadataStore, available_stores
from tests.store_support import MODEL, add, open_store, vectors

GIVEN = datetime(2024, 1, 10, 9, 30, tzinfo=UTC)


@pytest.fixture(params=available_stores())
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    yield from open_store(request, tmp_path)


def test_given_a_consent_then_it_is_recorded_updated_and_linked_to_faces(
    store: MetadataStore,
) -> None:
    faces = add(store, "a" * 64, n=2)
    other = add(store, "b" * 64, n=1)
    consent = store.add_consent(
        subject_ref="S-1",
        purpose="staff badge",
        scope=["c"],
        given_at=GIVEN,
        expires_at=GIVEN + timedelta(days=365),
        evidence_ref="form 12",
    )
    assert (consent.subject_ref, consent.scope, consent.evidence_ref) == ("S-1", ["c"], "form 12")
    assert consent.given_at == GIVEN and consent.last_interaction_at == GIVEN
    assert consent.withdrawn_at is None and consent.person_id is None
    assert store.consent(consent.id) == consent
    person = store.get_or_create_person("Ada")
    seen, withdrawn = GIVEN + timedelta(days=3), GIVEN + timedelta(days=30)
    store.update_consent(consent.id, person_id=person, last_interaction_at=seen)
    store.update_consent(consent.id, withdrawn_at=withdrawn)  # the others stay
    updated = store.consent(consent.id)
    assert (updated.person_id, updated.last_interaction_at) == (person, seen)
    assert updated.withdrawn_at == withdrawn
    store.set_face_consent(faces.tolist(), consent.id)
    assert sorted(store.consent_face_ids(consent.id)) == faces.tolist()
    assert int(other[0]) not in store.consent_face_ids(consent.id)
    second = store.add_consent(
        subject_ref="S-2", purpose="p", scope=[], given_at=GIVEN, expires_at=None,
        evidence_ref="e",
    )  # fmt: skip
    assert [c.id for c in store.consents()] == [consent.id, second.id]
    assert store.consent_face_ids(second.id) == []


def test_given_a_bad_consent_then_it_is_refused(store: MetadataStore) -> None:
    with pytest.raises(InvalidArgumentError, match="before it was given"):
        store.add_consent(
            subject_ref="S", purpose="p", scope=[], given_at=GIVEN,
            expires_at=GIVEN - timedelta(days=1), evidence_ref="e",
        )  # fmt: skip
    with pytest.raises(NotFoundError, match="no collection named 'nope'"):
        store.add_consent(
            subject_ref="S", purpose="p", scope=["nope"], given_at=GIVEN, expires_at=None,
            evidence_ref="e",
        )  # fmt: skip
    assert store.consents() == []
    with pytest.raises(NotFoundError, match="no consent record with id 7"):
        store.consent(7)


def test_given_a_pending_request_then_templates_are_kept_until_it_is_decided(
    store: MetadataStore,
) -> None:
    faces = add(store, "a" * 64, n=3)
    templates = vectors(2, seed=1)
    request = store.add_subject_request(
        kind="access", request_ref="R-1", created_by="admin", status="pending",
        faces_found=2, templates=templates,
        candidates=[(int(faces[0]), 0.7), (int(faces[1]), 0.9)],
        threshold=0.6, expected_false_candidates=0.01, gallery_faces=3,
    )  # fmt: skip
    assert (request.status, request.photos, request.completed_at) == ("pending", 2, None)
    assert (request.threshold, request.gallery_faces) == (0.6, 3)
    stored, kept = store.subject_request(request.id)
    assert stored == request
    assert kept is not None
    np.testing.assert_allclose(kept, templates)
    assert store.subject_request_candidates(request.id) == [
        (int(faces[1]), 0.9, "pending"),
        (int(faces[0]), 0.7, "pending"),
    ], "best first"
    store.add_subject_request_candidates(request.id, [(int(faces[2]), 0.8)])
    assert store.subject_request(request.id)[0].faces_found == 3
    store.decide_subject_request(request.id, {int(faces[1]): "confirmed"}, "admin", None)
    decided = dict((f, d) for f, _, d in store.subject_request_candidates(request.id))
    assert decided == {
        int(faces[0]): "pending",
        int(faces[1]): "confirmed",
        int(faces[2]): "pending",
    }
    assert store.subject_request(request.id)[1] is not None, "no outcome: still pending"
    done_at = GIVEN + timedelta(days=1)
    outcome = {"status": "completed", "completed_at": done_at, "confirmed_by": "dpo",
               "faces_confirmed": 1}  # fmt: skip
    store.decide_subject_request(request.id, {int(faces[0]): "rejected"}, "dpo", outcome)
    completed, dropped = store.subject_request(request.id)
    assert dropped is None, "the requester's templates are gone"
    assert (completed.status, completed.confirmed_by, completed.faces_confirmed) == (
        "completed", "dpo", 1,
    )  # fmt: skip
    assert completed.completed_at == done_at
    with pytest.raises(NotFoundError, match="no subject request with id 99"):
        store.subject_request(99)


def test_given_requests_then_they_are_listed_oldest_first_and_by_date(
    store: MetadataStore,
) -> None:
    first = store.add_subject_request(
        kind="access", request_ref="R-1", created_by="a", status="no_match", faces_found=0
    )
    second = store.add_subject_request(
        kind="erasure", request_ref="R-2", created_by="a", status="pending", faces_found=0
    )
    assert first.completed_at is not None, "a request not pending is completed at once"
    assert [r.request_ref for r in store.subject_requests()] == ["R-1", "R-2"]
    since = first.created_at - timedelta(minutes=1)
    assert [r.id for r in store.subject_requests(since)] == [first.id, second.id]
    assert store.subject_requests(second.created_at + timedelta(days=1)) == []


def test_given_an_erasure_then_faces_go_the_templates_are_suppressed_and_the_request_completes(
    store: MetadataStore,
) -> None:
    gone = add(store, "a" * 64, n=2)
    kept = add(store, "b" * 64, n=2, rejected=1)
    templates = vectors(2, seed=2)
    request = store.add_subject_request(
        kind="erasure", request_ref="R-9", created_by="admin", status="pending",
        faces_found=3, templates=templates,
        candidates=[(int(f), 0.9) for f in [*gone.tolist(), int(kept[0])]],
    )  # fmt: skip
    assert store.suppression_count() == 0 and store.suppression_templates() == []
    erased = store.erase_faces(
        [*gone.tolist(), int(kept[0]), 4242],  # an id no longer there is skipped
        suppress=templates,
        request_id=request.id,
        request_outcome={"status": "completed", "confirmed_by": "admin"},
    )
    assert erased.face_ids.tolist() == [*gone.tolist(), int(kept[0])]
    assert erased.image_locations == [f"/photos/{'a' * 64}.jpg"], "b still has a face"
    assert store.indexed_face_ids(MODEL).tolist() == [int(kept[1])]
    assert store.counts().faces_rejected == 1, "b's rejected face is not erased"
    done, dropped = store.subject_request(request.id)
    assert (done.status, done.faces_erased, done.images_erased) == ("completed", 3, 1)
    assert dropped is None
    [suppressed] = store.suppression_templates()
    np.testing.assert_allclose(suppressed, templates)
    # b's last accepted face goes: so does b, with its rejected detection (nobody's searchable
    # face; the photo shows the erased person).
    alone = store.erase_faces([int(kept[1])], suppress=vectors(1, seed=3)[0])
    assert alone.image_locations == [f"/photos/{'b' * 64}.jpg"]
    assert (store.counts().images, store.counts().faces_rejected) == (0, 0)
    assert store.suppression_count() == 3
    assert [t.shape for t in store.suppression_templates()] == [(2, MODEL.dim), (1, MODEL.dim)]


def test_given_a_retention_cutoff_then_the_images_ingested_before_it_are_found(
    store: MetadataStore,
) -> None:
    add(store, "a" * 64)
    add(store, "b" * 64, collection="other")
    ids = [i.image_id for i in store.images("c")]
    assert store.images_ingested_before("c", datetime.now(UTC) + timedelta(minutes=1)) == ids
    assert store.images_ingested_before("c", datetime.now(UTC) - timedelta(days=1)) == []
    with pytest.raises(NotFoundError, match="no collection named 'nope'"):
        store.images_ingested_before("nope", datetime.now(UTC))
