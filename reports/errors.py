"""Errors raised while building or rendering a report.

::

    ReportError                 base; the CLI prints it as one line (``USER_ERRORS``)
    ├── ReportConfigError       a [reports] setting is unusable (bad logo path, missing template dir)
    ├── ReportDataError         the store lacks what a report needs (no scores, no contracts)
    └── ResourceBlocked         a template asked WeasyPrint for a file outside the allowed folders
"""

from __future__ import annotations


class ReportError(Exception):
    """Base class: every message says what to do next."""


class ReportConfigError(ReportError):
    exit_code = 2


class ReportDataError(ReportError):
    pass


class ResourceBlocked(ReportError):
    pass


#: Errors the CLI reports as one line (see nrr/cli.py).
USER_ERRORS = (ReportError,)
