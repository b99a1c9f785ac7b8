"""Build of the optional C reader; the project's metadata is in setup.cfg.

``optional=True``: where the extension cannot be compiled (no C compiler, no Python headers) the
package installs without it and reads DmfA persons with the pure-Python readers.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("cbss_batch.parse._dmfa_reader", ["cbss_batch/parse/_dmfa_reader.c"],
                             optional=True, extra_compile_args=["-O2"])])
