"""Germany's municipalities (Gemeindeverzeichnis): the directory and its GV100AD source format."""

from ozgbridge.regions.directory import (
    Directory,
    Entry,
    Source,
    default_directory,
    names_match,
)

__all__ = ["Directory", "Entry", "Source", "default_directory", "names_match"]
