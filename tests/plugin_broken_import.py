"""A plugin module whose import fails, as when a plugin's own dependency is not installed."""
from __future__ import annotations

import film_test_dependency_that_is_not_installed  # noqa: F401
