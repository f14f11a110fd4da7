"""Email through Django's configured mail backend (``transport.py``)."""
