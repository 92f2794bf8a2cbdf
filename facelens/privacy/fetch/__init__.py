"""Fetch exactly the image URLs an operator lists, and nothing else.

The EU AI Act forbids building face databases by untargeted scraping of the internet. facelens
therefore never crawls: an operator names each image in a manifest (the image URL and the page
it appeared on, for provenance) and facelens fetches exactly those image URLs. It never fetches
the page URL, never parses HTML, never follows links or redirects and never discovers images by
itself; a redirect is refused and the operator is asked to list its target instead.

Fetching a URL someone else chose is also a server-side request forgery risk, so every fetch is
limited to public addresses (unless an admin allows a private network), checked again on the
connection actually made (DNS rebinding), capped in size and bounded by a wall-clock deadline.

``manifest`` reads the manifest, ``addresses`` says what may be connected to, ``client`` does
the fetching; their public names are importable from here.
"""

from facelens.privacy.fetch.addresses import ALLOWED_SCHEMES, IPAddress, IPNetwork, address_refusal
from facelens.privacy.fetch.client import (
    FetchedImage,
    FetchOptions,
    fetch_all,
    fetch_image,
    new_client,
)
from facelens.privacy.fetch.manifest import (
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    Manifest,
    ManifestEntry,
    read_manifest,
)

__all__ = [
    "ALLOWED_SCHEMES",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "FetchOptions",
    "FetchedImage",
    "IPAddress",
    "IPNetwork",
    "Manifest",
    "ManifestEntry",
    "address_refusal",
    "fetch_all",
    "fetch_image",
    "new_client",
    "read_manifest",
]
