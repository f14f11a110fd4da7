"""Background work of streams: none as Huey tasks. The ticker is a worker loop (``ticker.serve``), and a
tick's Telegram channel posts are rows of the messaging outbox, sent by its dispatcher."""
