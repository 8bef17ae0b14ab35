"""File facts shared by upload and library scanning."""

import hashlib

CHUNK = 1024 * 1024


def sha1_of(path) -> str:
    """SHA1 of the file's content, hex (Immich's asset checksum)."""
    digest = hashlib.sha1()
    with open(path, "rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
