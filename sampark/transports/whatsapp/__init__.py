"""WhatsApp Business Platform (Cloud API): the transport (``transport.WhatsApp``), its webhook
(``webhook.whatsapp`` under /webhooks/whatsapp/) and the webhook body parser (``parse``).

Off by default, and refused at start-up unless every secret is set and the operator has attested that
the organisation is eligible under WhatsApp's Business Messaging Policy (``transport.POLICY_WARNING``).
"""
