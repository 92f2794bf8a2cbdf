"""The store contract, clusters: proposed persons (groups of unnamed faces of one collection),
each face in one at most, gone with their faces, for every backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from facelens.errors import ConflictError, InvalidArgumentError, NotFoundError
from facelens.store import MetadataStore, available_stores
from facelens.store.contract.clusters import DISMISSED, PROPOSED
from tests.store_support import MODEL, add, open_store


@pytest.fixture(params=available_stores())
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    yield from open_store(request, tmp_path)


def test_given_clusters_then_they_are_listed_with_their_faces_and_take_more(
    store: MetadataStore,
) -> None:
    faces = add(store, "a" * 64, n=4, rejected=1).tolist() + add(store, "b" * 64).tolist()
    add(store, "c" * 64, collection="other")
    assert store.unclustered_face_ids("c", MODEL).tolist() == faces
    first, second = store.add_clusters("c", [[faces[2], faces[0]], faces[3:5]])
    assert second > first
    listed = store.clusters("c")
    assert [(c.cluster_id, c.face_ids, c.status) for c in listed] == [
        (first, [faces[0], faces[2]], PROPOSED),
        (second, faces[3:5], PROPOSED),
    ]
    assert listed[0].collection == "c" and store.clusters("other") == []
    assert store.unclustered_face_ids("c", MODEL).tolist() == [faces[1]]
    store.add_to_cluster(first, [faces[1]])
    assert store.cluster(first).face_ids == faces[:3]
    assert store.unclustered_face_ids("c", MODEL).tolist() == []
    store.set_cluster_status(second, DISMISSED)
    assert [c.cluster_id for c in store.clusters(status=DISMISSED)] == [second]
    assert [c.cluster_id for c in store.clusters("c", status=PROPOSED)] == [first]
    store.delete_cluster(first)
    assert [c.cluster_id for c in store.clusters()] == [second]
    assert store.unclustered_face_ids("c", MODEL).tolist() == faces[:3], "faces stay"
    with pytest.raises(NotFoundError):
        store.cluster(first)


def test_given_bad_members_then_nothing_is_clustered(store: MetadataStore) -> None:
    faces = add(store, "a" * 64, n=3).tolist()
    elsewhere = add(store, "b" * 64, collection="other").tolist()
    with pytest.raises(InvalidArgumentError, match="at least 2"):
        store.add_clusters("c", [faces[:1]])
    with pytest.raises(NotFoundError, match="no face"):
        store.add_clusters("c", [[faces[0], 10_000]])
    with pytest.raises(InvalidArgumentError, match="collection"):
        store.add_clusters("c", [[faces[0], elsewhere[0]]])
    with pytest.raises(NotFoundError, match="collection"):
        store.add_clusters("nowhere", [faces[:2]])
    [cluster] = store.add_clusters("c", [faces[:2]])
    with pytest.raises(ConflictError, match="in a cluster"):
        store.add_clusters("c", [faces[1:3]])
    person = store.get_or_create_person("Ada")
    store.assign_faces(person, [faces[2]])
    with pytest.raises(ConflictError, match="a person's"):
        store.add_to_cluster(cluster, [faces[2]])
    with pytest.raises(NotFoundError):
        store.add_to_cluster(cluster + 1, [faces[2]])
    with pytest.raises(InvalidArgumentError, match="not 'accepted'"):
        store.set_cluster_status(cluster, "accepted")
    with pytest.raises(NotFoundError):
        store.delete_cluster(cluster + 1)
    assert [c.face_ids for c in store.clusters()] == [faces[:2]]


@pytest.mark.parametrize("how", ["face", "image", "person", "collection", "erase", "assign"])
def test_given_a_clustered_face_removed_then_its_membership_goes_and_empty_clusters_too(
    store: MetadataStore, how: str
) -> None:
    faces = add(store, "a" * 64, n=2).tolist() + add(store, "b" * 64, n=2).tolist()
    keep, lose = store.add_clusters("c", [[faces[0], faces[2]], [faces[1], faces[3]]])
    person = store.get_or_create_person("Ada")
    if how == "face":
        store.delete_faces([faces[1], faces[3]])
    elif how == "image":
        store.delete_images([store.face_records([faces[0]])[faces[0]].image_id])
    elif how == "person":
        store.delete_cluster(lose)
        store.assign_faces(person, [faces[1], faces[3]])
        store.delete_person(person)
    elif how == "collection":
        store.delete_collection("c")
    elif how == "erase":
        store.erase_faces([faces[1], faces[3]])
    else:
        store.assign_faces(person, [faces[1], faces[3]])
    remaining = {c.cluster_id: c.face_ids for c in store.clusters()}
    if how == "collection":
        assert remaining == {}
    elif how == "image":  # the first image held a face of each cluster
        assert remaining == {keep: [faces[2]], lose: [faces[3]]}
    else:
        assert remaining == {keep: [faces[0], faces[2]]}
