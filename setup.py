"""Build of the optional C extensions; the project's metadata is in setup.cfg.

``optional=True``: where an extension cannot be compiled (no C compiler, no Python or SQLite headers)
the package installs without it and does the same work in Python: the DmfA person reader
(``cbss_batch.parse._dmfa_reader``) and the SQLite staging writes (``cbss_batch.store._sqlite_rows``).
"""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension("cbss_batch.parse._dmfa_reader", ["cbss_batch/parse/_dmfa_reader.c"],
              optional=True, extra_compile_args=["-O2"]),
    Extension("cbss_batch.store._sqlite_rows", ["cbss_batch/store/_sqlite_rows.c"],
              libraries=["sqlite3"], optional=True, extra_compile_args=["-O2"]),
])
