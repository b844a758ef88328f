"""One module per concept: its checks, its conversion to record fields, and its device variant.

The Logger calls these; nothing here imports a backend.
"""
