"""Data subject rights, by selfie: access (GDPR Art. 15) and erasure with opt-out (Art. 17).

Names are not reliable identifiers, so a request is made with photos of the requester. Two
things keep a request from touching strangers or missing the requester:

- **A calibrated rule.** A stored face is a candidate when its similarity to the requester's
  photos (their mean template) reaches a threshold chosen, for the gallery's current size,
  so that the expected number of strangers proposed stays at
  ``subject_request_false_candidates``. The false match rates come from a table measured on
  LFW (``facelens/data/subject_match_fmr.json``, made by ``bench/subject_requests.py``; the
  worse gender group at each threshold). The threshold and the expected false candidates are
  stated with every request. Several photos find more of the requester's faces.
- **A human in the loop.** Every candidate is shown to an admin (a crop, the similarity, the
  source); the admin confirms face by face. Nothing is disclosed or erased that an admin did
  not confirm. On confirmation the gallery is scanned again: candidates that arrived since the
  review are added, and the confirmation waits until they are reviewed too.

Erasure erases the confirmed faces (``Engine.erase``: one store transaction with the
suppression entries, then the index and facelens's own copies) and puts every photo's
template on the suppression list, so future ingests skip the person and searches never show
them. Matching is an exact scan of the store (not the approximate index).

``calibration`` holds the rule, ``faces`` what a request finds and holds, ``workflow`` the
request's steps and ``report`` what an access request sends; their public names are
importable from here.
"""

from facelens.privacy.rights.calibration import (
    MatchRule,
    MatchTable,
    calibrated_rule,
    candidate_scores,
    shipped_match_table,
)
from facelens.privacy.rights.faces import (
    CROP_PX,
    HeldFace,
    matching_faces,
    requester_templates,
)
from facelens.privacy.rights.report import AccessReport, access_report, export_access_report
from facelens.privacy.rights.workflow import (
    ACCESS,
    COMPLETED,
    CONFIRMED,
    ERASURE,
    NO_MATCH,
    PENDING,
    REJECTED,
    UNDECIDED,
    RequestReview,
    candidate_crop,
    confirm,
    open_request,
    review,
)

__all__ = [
    "ACCESS",
    "COMPLETED",
    "CONFIRMED",
    "CROP_PX",
    "ERASURE",
    "NO_MATCH",
    "PENDING",
    "REJECTED",
    "UNDECIDED",
    "AccessReport",
    "HeldFace",
    "MatchRule",
    "MatchTable",
    "RequestReview",
    "access_report",
    "calibrated_rule",
    "candidate_crop",
    "candidate_scores",
    "confirm",
    "export_access_report",
    "matching_faces",
    "open_request",
    "requester_templates",
    "review",
    "shipped_match_table",
]
