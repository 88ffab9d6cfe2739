"""Build the compiled recurrence kernel (``typedrl._recurrence._cpu``); all other metadata lives in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "typedrl._recurrence._cpu",
            sources=["src/typedrl/_recurrence/_cpu.c"],
            depends=["src/typedrl/_recurrence/_cpu_impl.h"],
            extra_compile_args=["-O3", "-fno-math-errno", "-std=c11"],
        )
    ]
)
