"""vizlog against the raw writers, side by side in one run (``make bench``)."""
