"""Dataset loaders with the signatures of ``keras.datasets``, working offline from a mirror.

See :mod:`course.datasets._files` for the lookup order (``$COURSE_DATA_DIR``, cache, upstream).
"""

from ._files import ChecksumError, DataFile, DatasetNotFoundError, fetch

__all__ = ["ChecksumError", "DataFile", "DatasetNotFoundError", "fetch"]
