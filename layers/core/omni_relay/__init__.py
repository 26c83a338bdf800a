"""omni-cancel-relay core: verify a request, authorize its sender, cancel an Omni AI job, answer.

Floors, each depending only on the ones below: sources/ (inbound) -> usecases/ -> presentation/ and
adapters/ (outbound) -> domain/. wiring.py composes them once per execution environment; errors,
settings and observability are beside the floors. docs/architecture.md has a line per module.
"""
