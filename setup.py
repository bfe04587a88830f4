"""The routing search's C loops (careway/routing/search/_native.c), built by pip with the rest.

Everything else about the package is in pyproject.toml. The extension is optional: without a C
compiler the install still succeeds and the search runs its pure-Python reference, several
times slower (`careway route solve` says which one ran).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "careway.routing.search._native",
            sources=["careway/routing/search/_native.c"],
            extra_compile_args=["-O2", "-ffp-contract=off"],
            optional=True,
        )
    ]
)
