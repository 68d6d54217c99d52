// An LD_PRELOAD interposer for the I/O-error tests; see faults.c.
