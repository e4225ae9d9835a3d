"""matchbot's Discord layer and command line: thin wrappers around the core in ``index``."""
