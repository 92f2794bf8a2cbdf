"""The web interface: static pages served by the API app; they call the JSON API."""

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
