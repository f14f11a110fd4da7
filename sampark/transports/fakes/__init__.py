"""Local fake providers speaking the real wire formats, with injectable faults: for tests and benchmarks.

They listen on 127.0.0.1 only and are never used by the running product.
"""
