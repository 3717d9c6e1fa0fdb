"""The shared side of an artifact store at an fsspec URL (s3://bucket/films, gs://..., sftp://...).

Every process keeps the artifacts it touches in a local mirror (see ``Store``); the URL holds what all the
workers of a cluster share. An artifact's files go up first and its JSON record last, so a record there
means complete files; a download goes to a temp name, is checked against the record's digest, then renamed.
Credentials come from the environment the fsspec backend reads (for s3fs: AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_PROFILE...), never from the project file, and are never logged.
"""
from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pipeline.errors import FilmError, RuntimeFailure, UserError
from pipeline.store.keys import file_digest
from stages.files import temp_sibling

OBJECT_STORES = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oss"}  # keys, not folders
CREDENTIAL_ERRORS = {"NoCredentialsError", "PartialCredentialsError", "NoAuthTokenError", "AuthenticationException",
                     "DefaultCredentialsError", "ClientAuthenticationError", "CredentialRetrievalError"}
CREDENTIALS_HINT = ("check the storage credentials in the environment (for s3://: AWS_ACCESS_KEY_ID and "
                    "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE) and that they may list, read, write and delete there")
URL_HINT = "set store: to a folder or an fsspec URL such as s3://bucket/films (see 'Artifact store' in the README)"


class RemoteStore:
    """Files under one fsspec URL, addressed by paths relative to it (``images/<key>.png``)."""

    def __init__(self, url: str, options: Mapping[str, Any]) -> None:
        self.url = url.rstrip("/")
        try:
            import fsspec

            with self._errors("open", ""):  # some filesystems (sftp...) connect and log in right here
                self.fs, self.base = fsspec.core.url_to_fs(self.url, **options)
        except ImportError as exc:  # the protocol's implementation is not installed
            raise UserError(f"store: {self.url}: {exc}",
                            "install it, e.g. pip install -e '.[s3]' for s3:// URLs") from None
        except (ValueError, TypeError) as exc:  # an unknown protocol or an option it does not take
            raise UserError(f"store: {self.url}: {exc}", URL_HINT) from None
        self._folders: set[str] = set()
        protocols = {self.fs.protocol} if isinstance(self.fs.protocol, str) else set(self.fs.protocol)
        self._object_store = bool(protocols & OBJECT_STORES)  # keys under a bucket, no folders to make

    def check(self) -> None:
        """Fail now, not after paid work, when the bucket (or the folder above the store) is missing, or the
        store cannot be written: a probe file is written and removed."""
        top = self.base.split("/", 1)[0] if self._object_store else (self.fs._parent(self.base) or self.base)
        with self._errors("reach", ""):
            self.fs.info(top)
        probe = f".film-probe-{uuid.uuid4().hex[:12]}"
        with self._errors("write", probe):
            self._folder_for(probe)
            self.fs.pipe_file(self._path(probe), b"film can write here\n")
        self.remove(probe)

    def read_json(self, rel: str) -> dict[str, Any] | None:
        """A JSON file under the URL, or None when it is not there (or cut short)."""
        try:
            with self._errors("read", rel):
                raw = self.fs.cat_file(self._path(rel))
        except FileNotFoundError:
            return None
        try:
            found = json.loads(raw)
        except ValueError:
            return None
        return found if isinstance(found, dict) else None

    def fetch(self, rel: str, local: Path, digest: str | None = None) -> None:
        """Download ``rel`` to ``local`` atomically; with ``digest``, refuse a file whose bytes do not match."""
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_sibling(local)
        try:
            with self._errors("download", rel):
                self.fs.get_file(self._path(rel), str(tmp))
            if digest is not None and file_digest(tmp) != digest:
                raise RuntimeFailure(f"store: {self.url}/{rel} does not match its record (a damaged or partial upload)",
                                     "run again with --force for that stage and shot to make it anew")
            os.replace(tmp, local)
        finally:
            tmp.unlink(missing_ok=True)

    def upload(self, local: Path, rel: str) -> None:
        """Put a local file at ``rel``."""
        with self._errors("upload", rel):
            self._folder_for(rel)
            self.fs.put_file(str(local), self._path(rel))

    def write_json(self, rel: str, obj: Any) -> None:
        """Put a JSON document at ``rel`` (one request: whole or not at all on object stores)."""
        with self._errors("write", rel):
            self._folder_for(rel)
            self.fs.pipe_file(self._path(rel), json.dumps(obj, indent=2, default=str, ensure_ascii=False).encode())

    def remove(self, rel: str) -> None:
        """Delete ``rel`` if it is there."""
        try:
            with self._errors("delete", rel):
                self.fs.rm_file(self._path(rel))
        except FileNotFoundError:
            pass

    def _path(self, rel: str) -> str:
        return f"{self.base}/{rel}" if self.base else rel

    def _folder_for(self, rel: str) -> None:
        """Make the folder of ``rel`` once per process; object stores have none (and a bucket is never made)."""
        if self._object_store:
            return
        folder = self.fs._parent(self._path(rel))
        if folder not in self._folders:
            self.fs.makedirs(folder, exist_ok=True)
            self._folders.add(folder)

    @contextlib.contextmanager
    def _errors(self, doing: str, rel: str) -> Iterator[None]:
        """Turn a storage library's exception into one of ours that names the URL and the fix."""
        where = f"store: cannot {doing} {self.url}/{rel}".rstrip("/")
        try:
            yield
        except (FilmError, ImportError, ValueError, TypeError):
            raise
        except FileNotFoundError:
            if doing in ("read", "delete"):
                raise  # absence is an answer, not a failure
            if doing == "download":
                raise RuntimeFailure(f"{where}: it is gone from the store though its record is there",
                                     "run again with --force for that stage and shot to make it anew") from None
            raise UserError(f"{where}: the bucket or folder does not exist", "create it, or " + URL_HINT) from None
        except PermissionError:
            raise UserError(f"{where}: access denied", CREDENTIALS_HINT) from None
        except Exception as exc:
            if type(exc).__name__ in CREDENTIAL_ERRORS:
                raise UserError(f"{where}: no usable credentials ({type(exc).__name__})", CREDENTIALS_HINT) from None
            raise RuntimeFailure(f"{where}: {type(exc).__name__}: {exc}",
                                 "check the network and the store's endpoint; finished work is kept, "
                                 "run again") from None
