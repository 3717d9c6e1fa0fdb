"""The artifact store: every result under a hash of what made it, on this machine and optionally at a URL."""
from pipeline.store.keys import digest, file_digest
from pipeline.store.local import Store
from pipeline.store.records import Freshness, Record
from pipeline.store.verify import Damage

__all__ = ["Damage", "Freshness", "Record", "Store", "digest", "file_digest"]
