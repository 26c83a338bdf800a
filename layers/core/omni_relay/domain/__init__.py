"""What the relay is about, with no I/O: a cancel and its outcomes, who asked, what a text asks, the tasks."""
