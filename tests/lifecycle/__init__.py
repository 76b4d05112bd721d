"""The lifecycle fuzzer (issue 16): seeded random histories of what the world does to orders, over
the real stack, checked against the invariants of DESIGN.md section 3 ("Every order ends")."""
