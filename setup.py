"""Build the compiled recurrence kernels (``typedrl._kernels``); all other metadata lives in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "typedrl._kernels",
            sources=["src/typedrl/_kernels.c"],
            depends=["src/typedrl/_kernels_impl.h"],
            extra_compile_args=["-O3", "-fno-math-errno", "-std=c11"],
        )
    ]
)
