"""Issue 16 item 4: unassigned faces clustered into proposed persons, incrementally, then
accepted as a named person or dismissed; memberships go with their faces. Real photos,
models, store and index; the algorithm and BCubed on hand-made vectors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from facelens.clustering.linkage import group_faces, required
from facelens.engine import Engine
from facelens.errors import NotFoundError
from facelens.evaluation.clustering import bcubed, labels_of
from facelens.pipeline.embed.base import l2_normalise
from tests.conftest import PRESS_ARCHIVE, Cli, Declare

OBAMA = ("obama.jpg", "obama2.jpg")
LATER = ("obama3.jpg", "obama_partial_face.jpg")


def photo_ids(engine: Engine, collection: str = "archive") -> dict[str, int]:
    """Each stored photo's (single) face id by file name."""
    return {
        Path(image.location).name: image.face_ids[0]
        for image in engine.images(collection)
        if image.face_ids
    }


def test_bcubed_on_a_hand_made_example_gives_the_known_values() -> None:
    # Truth: a, b, c are X; d, e are Y. Clusters: {a, b}, {c, d, e}.
    # Precision per item: 1, 1, 1/3, 2/3, 2/3 -> 11/15; recall: 2/3, 2/3, 1/3, 1, 1 -> 11/15.
    scores = bcubed(["p", "p", "q", "q", "q"], ["X", "X", "X", "Y", "Y"])
    assert scores.precision == pytest.approx(11 / 15)
    assert scores.recall == pytest.approx(11 / 15)
    # Every item alone: precision 1; recall (1/3 * 3 + 1/2 * 2) / 5 = 2/5; F = 4/7.
    alone = bcubed(labels_of([], 5), ["X", "X", "X", "Y", "Y"])
    assert (alone.precision, alone.recall, alone.f) == pytest.approx((1.0, 0.4, 4 / 7))


def test_given_two_look_alike_groups_and_a_face_between_then_average_link_does_not_chain() -> None:
    rng = np.random.default_rng(0)
    a, c = np.linalg.qr(rng.standard_normal((16, 2)))[0].T.astype(np.float32)
    b = 0.88 * a + np.sqrt(1 - 0.88**2) * c  # a look-alike: 0.88 to ``a``
    between = l2_normalise((a + b)[None, :])[0]  # 0.97 to both: single linkage would chain

    def around(centre: np.ndarray, n: int) -> np.ndarray:
        noise = 0.02 * rng.standard_normal((n, 16)).astype(np.float32)
        return l2_normalise(centre[None, :] + noise)

    vectors = np.concatenate([around(a, 4), around(b, 4), between[None, :]])
    grouping = group_faces(vectors, threshold=0.95, floor=0.9)
    assert len(grouping.formed) == 2 and grouping.single == []
    first, second = (set(g) for g in grouping.formed)
    assert {0, 1, 2, 3} <= first and {4, 5, 6, 7} <= second, "the face between joins one"
    # Incremental: new faces near ``a`` join fixed group 0; the fixed groups never merge.
    fixed = [vectors[:4], vectors[4:8]]
    later = group_faces(around(a, 2), fixed, threshold=0.95, floor=0.9)
    assert later.joined == {0: [0, 1]} and later.formed == [] and later.single == []
    assert group_faces(between[None, :], fixed, threshold=0.95, floor=0.9).joined.keys() <= {
        0,
        1,
    }
    assert required(1, 0.95, 0.9) == 0.95 and required(4, 0.95, 0.9) == pytest.approx(0.925)


def test_given_sample_photos_then_one_person_is_proposed_together_and_another_apart(
    engine: Engine, declare: Declare, photos: Path
) -> None:
    declare(engine, "archive")
    engine.ingest([photos / n for n in (*OBAMA, "biden.jpg")], "archive")
    ids = photo_ids(engine)
    summary = engine.cluster_faces("archive")
    assert (summary.faces_considered, summary.clusters_proposed) == (3, 1)
    assert (summary.faces_clustered, summary.faces_left_single) == (2, 1)
    [proposal] = engine.proposals()
    assert proposal.face_ids == sorted(ids[n] for n in OBAMA), "Biden is left apart"
    assert engine.cluster_faces().faces_considered == 1, "only Biden is looked at again"

    # New photos join the proposal from before, which keeps its id and its faces.
    engine.ingest([photos / n for n in LATER], "archive")
    ids = photo_ids(engine)
    again = engine.cluster_faces("archive")
    assert (again.clusters_proposed, again.clusters_grown, again.faces_clustered) == (0, 1, 2)
    [grown] = engine.proposals()
    assert grown.cluster_id == proposal.cluster_id
    assert grown.face_ids == sorted(ids[n] for n in (*OBAMA, *LATER))

    person = engine.accept_proposal(grown.cluster_id, "Barack Obama")
    assert person.name == "Barack Obama" and person.face_ids == grown.face_ids
    assert engine.proposals(status=None) == []
    assert engine.cluster_faces().faces_considered == 1, "a person's faces are not clustered"
    actions = [(e.action, e.details) for e in engine.audit_entries()]
    clustered = [d for a, d in actions if a == "people cluster"]
    assert clustered[0]["clusters_proposed"] == 1 and "embedding" not in str(clustered)
    assert ("people accept", {"cluster_id": grown.cluster_id, "face_ids": grown.face_ids}) in [
        (a, d) for a, d in actions
    ]


def test_given_a_dismissed_proposal_then_it_is_not_listed_and_takes_its_new_faces(
    engine: Engine, declare: Declare, photos: Path
) -> None:
    declare(engine, "archive")
    engine.ingest([photos / n for n in OBAMA], "archive")
    engine.cluster_faces()
    [proposal] = engine.proposals()
    engine.dismiss_proposal(proposal.cluster_id)
    assert engine.proposals() == []
    engine.ingest([photos / LATER[0]], "archive")
    assert engine.cluster_faces().clusters_grown == 1 and engine.proposals() == []
    [dismissed] = engine.proposals(status=None)
    assert len(dismissed.face_ids) == 3 and dismissed.status == "dismissed"


def test_given_clustered_faces_deleted_then_their_memberships_and_empty_proposals_go(
    engine: Engine, declare: Declare, photos: Path
) -> None:
    declare(engine, "archive", "press")
    engine.ingest([photos / n for n in (*OBAMA, LATER[0])], "archive")
    engine.ingest([photos / n for n in OBAMA], "press")
    summary = engine.cluster_faces()
    assert summary.clusters_proposed == 2, "one proposal a collection: never across them"
    ids = photo_ids(engine)
    engine.delete(face=ids["obama.jpg"])
    [archive] = engine.proposals("archive")
    assert ids["obama.jpg"] not in archive.face_ids and len(archive.face_ids) == 2
    engine.delete(collection="press")
    assert [p.collection for p in engine.proposals()] == ["archive"]
    engine.erase(archive.face_ids)
    assert engine.proposals(status=None) == []
    with pytest.raises(NotFoundError):
        engine.accept_proposal(archive.cluster_id, "Nobody")


def test_given_the_cli_then_people_cluster_lists_and_accepts_proposals(
    tmp_path: Path, photos: Path
) -> None:
    cli = Cli(tmp_path / "data")
    folder = tmp_path / "incoming"
    folder.mkdir()
    for name in (*OBAMA, "biden.jpg"):
        shutil.copy(photos / name, folder / name)
    cli("collection", "create", "archive", *PRESS_ARCHIVE)
    cli("ingest", folder, "-c", "archive")
    summary = cli.json("people", "cluster", "--collection", "archive")
    assert summary["clusters_proposed"] == 1 and summary["faces_left_single"] == 1
    assert "0 new proposal(s), 0 grown" in cli("people", "cluster")
    [proposal] = cli.json("people", "proposals")
    assert len(proposal["face_ids"]) == 2
    assert "archive" in cli("people", "proposals")
    person = cli.json("people", "accept", str(proposal["cluster_id"]), "--name", "Obama")
    assert person["face_ids"] == proposal["face_ids"]
    assert cli.json("people", "proposals") == []
    cli("people", "dismiss", str(proposal["cluster_id"]), code=3)
