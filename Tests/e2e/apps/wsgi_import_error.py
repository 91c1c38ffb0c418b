"""A module that fails at import (test_wsgi_loading)."""

raise RuntimeError("this module refuses to import")
