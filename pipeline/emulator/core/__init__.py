"""The ARM front door shared by every emulated service: routing, errors, long-running operations,
faults, counters and persistence."""
