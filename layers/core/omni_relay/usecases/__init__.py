"""What the relay does: cancel or hand off, Omni asked under the relay's rules, following a job,
telling a result later, the worker's finishing, and the record of every decision."""
