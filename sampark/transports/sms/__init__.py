"""SMS through an Indian HTTP gateway under TRAI's DLT rules (``transport.py``), and its delivery-report
webhook (``webhook.py``, which documents the gateway contract)."""
