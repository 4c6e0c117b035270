"""Patches to ministack (1.5.33) for what ftctl relies on and ministack does not model; each
module says what AWS does, what ministack did and what it changes. Imported for its effects by
ministack_server.py."""

from . import cloudfront  # noqa: F401
from . import cloudwatch  # noqa: F401
from . import dynamodb  # noqa: F401
from . import documentdb  # noqa: F401
from . import tagging  # noqa: F401
