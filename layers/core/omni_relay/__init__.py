"""omni-cancel-relay core: verify a request, authorize its sender, cancel an Omni AI job, answer.

Dependencies point inwards: sources/ and service depend on domain; adapters
(Omni, secrets, HTTP) are passed in so tests can hand in fakes.
"""
